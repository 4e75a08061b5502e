"""What a webhook message is: its signing secrets and signature (Standard Webhooks, "Signature
scheme"), the address it may go to, and its JSON body. Shared by the sender
(sharing.services.webhooks), the operator tools and the webhook transport."""

import base64
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from ledger.signing import decrypt_secret, encrypt_secret
from sharing.models import Publication, WebhookEndpoint, WebhookMessage
from sharing.services import webhook_http
from sharing.services.webhook_http import Target

EVENT_TYPE = "publication.delivered"
TEST_EVENT_TYPE = "webhook.test"
SECRET_INFO = b"cti-portal:webhook-secret-encryption:v1"


# --- Secrets, signatures, targets ----------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret: "whsec_" and 32 random bytes in base64 (Standard Webhooks)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def encrypt(secret: str) -> str:
    return encrypt_secret(secret.encode(), secret=settings.ENCRYPTION_SECRET, info=SECRET_INFO)


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    token = endpoint.encrypted_secret
    return decrypt_secret(token, secret=settings.ENCRYPTION_SECRET, info=SECRET_INFO).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, at: datetime) -> list[str]:
    """The secrets that sign a message sent at `at`: the current one, and during the overlap
    after a rotation the previous one too."""
    current = [endpoint_secret(endpoint)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_encrypted_secret and expires is not None and at < expires:
        previous = decrypt_secret(
            endpoint.previous_encrypted_secret, secret=settings.ENCRYPTION_SECRET, info=SECRET_INFO
        ).decode()
        return current + [previous]
    return current


def signature_header(
    endpoint: WebhookEndpoint, *, message_id: str, sent_at: datetime, body: str
) -> str:
    """The `webhook-signature` value: one "v1,<base64>" per signing secret, space-separated
    (Standard Webhooks, "Signature scheme": a receiver accepts the message when any one of them
    verifies, which lets a secret be rotated without dropping messages)."""
    return " ".join(
        Webhook(secret).sign(message_id, sent_at, body)
        for secret in signing_secrets(endpoint, at=sent_at)
    )


def check_target_url(url: str) -> Target:
    """Resolve a webhook URL once and check it (sharing.services.webhook_http.check_target_url);
    private targets are refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS allows them. The POST then
    connects to the returned address, so a DNS answer that changes in between (rebinding)
    cannot redirect it."""
    return webhook_http.check_target_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)


# --- Bodies --------------------------------------------------------------------------------


def payload_for(publication: Publication, items: list | None = None) -> dict[str, Any]:
    """The JSON body of a delivery: the STIX objects, each with its receipt."""
    organisation = publication.organisation
    if items is None:
        items = list(publication.items.all())
    return {
        "type": EVENT_TYPE,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": {
            "publication": {
                "id": publication.id,
                "title": publication.title,
                "tlp": publication.tlp,
                "distribution": publication.distribution,
                "bundle_id": publication.bundle_id,
                "created": publication.created_at.isoformat().replace("+00:00", "Z"),
                "publisher": {
                    "name": organisation.name,
                    "identity": organisation.stix_identity_id,
                },
            },
            "items": [{"object": obj.body, "receipt": obj.receipt} for obj in items],
        },
    }


def test_payload_for(message: WebhookMessage, *, at: datetime) -> dict[str, Any]:
    """The JSON body of a test event: which endpoint it checks, nothing shared."""
    return {
        "type": TEST_EVENT_TYPE,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": {
            "endpoint": {"id": message.endpoint_id, "url": message.endpoint.url},
            "organisation": message.endpoint.organisation.name,
        },
    }
