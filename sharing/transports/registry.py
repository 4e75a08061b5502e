"""From a channel kind to its Transport class."""

from sharing.transports.base import Transport
from sharing.transports.email import EmailTransport
from sharing.transports.inbox import InboxTransport
from sharing.transports.webhook import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    transport.kind: transport for transport in (InboxTransport, EmailTransport, WebhookTransport)
}


def transport_class(kind: str) -> type[Transport]:
    """The Transport class of `kind`; KeyError names the kinds there are."""
    try:
        return TRANSPORTS[kind]
    except KeyError:
        known = ", ".join(sorted(TRANSPORTS))
        raise KeyError(f"no transport {kind!r}; there are {known}") from None
