"""The base of every delivery channel: what a transport does and how it fails."""

from typing import Any, ClassVar


class TransportError(Exception):
    """Handing an item to a channel failed. `permanent` means retrying cannot help (a refused
    address, a URL the portal may not reach); `status_code` is the far side's answer, if any
    (an HTTP status, an SMTP reply code)."""

    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


class Transport:
    """One kind of delivery channel.

    `send(item)` hands one item over (an inbox entry, an email, a webhook message) and returns
    the far side's status code, or None when there is none; it raises TransportError on failure
    and never anything else for a failure of the channel. The caller stores the attempt row.
    """

    kind: ClassVar[str] = ""

    def send(self, item: Any) -> int | None:
        raise NotImplementedError
