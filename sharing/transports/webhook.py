"""Webhooks: one Standard Webhooks POST of a message, bounded in wall time and in what it
reads (sharing.services.webhook_http); the sender (sharing.services.webhooks) claims the
messages, runs the transport on a thread pool and records each attempt."""

import http.client
import json
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError

from sharing.models import WebhookMessage
from sharing.services import webhook_http
from sharing.services.webhook_messages import (
    check_target_url,
    payload_for,
    signature_header,
    test_payload_for,
)
from sharing.transports.base import Transport, TransportError


class DeliveryError(TransportError):
    """A POST failed; `permanent` means retrying cannot help."""


class WebhookTransport(Transport):
    """POSTs webhook messages. `bodies` maps a publication id (or ("message", id) for a test
    event) to its JSON body, built once for every endpoint of a batch; a body missing there is
    built here."""

    kind = "webhook"

    def __init__(self, bodies: dict | None = None) -> None:
        self.bodies = bodies or {}

    def send(self, item: WebhookMessage) -> int:
        return self.post(item, self.bodies.get(item.publication_id or ("message", item.id)))

    @staticmethod
    def post(message: WebhookMessage, body: str | None = None) -> int:
        """POST one message, bounded as webhook_http.post is. Returns the 2xx status; raises
        DeliveryError otherwise (a 3xx too: redirects are never followed)."""
        endpoint = message.endpoint
        try:
            target = check_target_url(endpoint.url)
        except ValidationError as exc:
            raise DeliveryError(" ".join(exc.messages), permanent=True) from None
        sent_at = datetime.now(tz=UTC)
        if body is None and message.publication_id is None:
            body = json.dumps(test_payload_for(message, at=sent_at), separators=(",", ":"))
        elif body is None:
            body = json.dumps(payload_for(message.publication), separators=(",", ":"))
        signature = signature_header(
            endpoint, message_id=message.message_id, sent_at=sent_at, body=body
        )
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": "cti-portal-webhooks/1",
            "webhook-id": message.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        }
        try:
            answer = webhook_http.post(
                target,
                body.encode(),
                headers,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                max_response_bytes=settings.WEBHOOK_MAX_RESPONSE_BYTES,
            )
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"request failed: {exc or type(exc).__name__}") from None
        if 300 <= answer.status < 400:
            raise DeliveryError(
                f"endpoint answered HTTP {answer.status}: redirects are not followed",
                status_code=answer.status,
            )
        if not 200 <= answer.status < 300:
            raise DeliveryError(
                f"endpoint answered HTTP {answer.status}", status_code=answer.status
            )
        return answer.status
