"""Webhooks: a Standard Webhooks POST of one message (sharing.services.webhooks sends)."""

from sharing.models import WebhookMessage
from sharing.services import webhooks
from sharing.transports.base import Transport


class WebhookTransport(Transport):
    """Adapts the webhook service's signed POST; `bodies` maps publication ids to JSON bodies
    built once for all endpoints of a publication. Raises webhooks.DeliveryError, a
    TransportError."""

    kind = "webhook"

    def __init__(self, bodies: dict[int, str] | None = None) -> None:
        self.bodies = bodies or {}

    def send(self, item: WebhookMessage) -> int:
        return webhooks._post(item, self.bodies.get(item.publication_id))
