"""What an organisation admin does to a webhook endpoint once it exists: rotate its secret,
re-enable it, send it a test event, redeliver a message. Each action checks the role, writes
its audit row in the same transaction, and fires the send (on the webhook queue) on commit.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.audit.models import AuditAction
from portal.celery import fire
from portal.models import User
from sharing import tasks
from sharing.models import WebhookEndpoint, WebhookMessage, WebhookMessageState
from sharing.services import webhook_messages, webhooks


def _require_active(endpoint: WebhookEndpoint) -> None:
    if not endpoint.is_active:
        raise ValidationError("The endpoint is disabled: re-enable it first.")


def _send_on_commit(message: WebhookMessage) -> None:
    transaction.on_commit(lambda: fire(tasks.send_webhook, message.id))


def rotate_secret(
    *, acting_user: User, endpoint: WebhookEndpoint, now: datetime | None = None
) -> str:
    """Give the endpoint a new signing secret and return it (shown once, never again).

    For WEBHOOK_SECRET_OVERLAP_HOURS the old secret keeps signing too: each message then
    carries two signatures, so a receiver verifies with either while it switches over. A
    second rotation within the overlap ends the first one's overlap (only the secret just
    replaced keeps signing).
    """
    webhooks.require_webhook_admin(acting_user, endpoint)
    now = now or timezone.now()
    secret = webhook_messages.new_secret()
    expires = now + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_encrypted_secret=endpoint.encrypted_secret,
            previous_secret_expires_at=expires,
            encrypted_secret=webhook_messages.encrypt(secret),
        )
        webhooks.record_endpoint_action(
            AuditAction.WEBHOOK_SECRET_ROTATED,
            actor=acting_user,
            endpoint=endpoint,
            old_secret_signs_until=expires.isoformat(),
        )
    endpoint.refresh_from_db()
    return secret


def enable_endpoint(*, acting_user: User, endpoint: WebhookEndpoint) -> None:
    """Re-enable a disabled endpoint: new deliveries are sent to it again and its failure
    streak starts afresh. Messages given up while it was disabled stay so (redeliver them one
    by one). Raises ValidationError when it is not disabled."""
    webhooks.require_webhook_admin(acting_user, endpoint)
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=False).update(
            is_active=True, disabled_at=None, disabled_reason="", failing_since=None
        )
        if not changed:
            raise ValidationError("The endpoint is not disabled.")
        webhooks.record_endpoint_action(
            AuditAction.WEBHOOK_ENABLED, actor=acting_user, endpoint=endpoint
        )
    endpoint.refresh_from_db()


def send_test_event(*, acting_user: User, endpoint: WebhookEndpoint) -> WebhookMessage:
    """Queue a `webhook.test` event to the endpoint, signed and retried like any message;
    its attempts appear in the delivery log."""
    webhooks.require_webhook_admin(acting_user, endpoint)
    _require_active(endpoint)
    with transaction.atomic():
        message = WebhookMessage.objects.create(
            endpoint=endpoint, event_type=webhook_messages.TEST_EVENT_TYPE
        )
        webhooks.record_endpoint_action(
            AuditAction.WEBHOOK_TEST_SENT,
            actor=acting_user,
            endpoint=endpoint,
            message=message.message_id,
        )
        _send_on_commit(message)
    return message


def redeliver(*, acting_user: User, message: WebhookMessage) -> WebhookMessage:
    """Send a delivered or given-up message again, now, with the same `webhook-id` (Standard
    Webhooks: receivers deduplicate on it). A message past WEBHOOK_MAX_ATTEMPTS gets this one
    attempt; one below it is retried on the schedule as before. Raises ValidationError when
    the message is still waiting to be sent or its endpoint is disabled."""
    endpoint = message.endpoint
    webhooks.require_webhook_admin(acting_user, endpoint)
    _require_active(endpoint)
    with transaction.atomic():
        changed = (
            WebhookMessage.objects.filter(pk=message.pk)
            .exclude(state=WebhookMessageState.PENDING)
            .update(state=WebhookMessageState.PENDING, next_attempt_at=timezone.now())
        )
        if not changed:
            raise ValidationError("The message is already waiting to be sent.")
        webhooks.record_endpoint_action(
            AuditAction.WEBHOOK_REDELIVERED,
            actor=acting_user,
            endpoint=endpoint,
            message=message.message_id,
        )
        _send_on_commit(message)
    message.refresh_from_db()
    return message
