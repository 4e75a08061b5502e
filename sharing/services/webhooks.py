"""Outgoing webhooks per the Standard Webhooks specification.

Each (endpoint, publication) pair is a WebhookMessage row; each POST an attempt row. A message is
claimed with a conditional UPDATE, so two workers never send the same attempt, and a failed
attempt schedules the next one with the Standard Webhooks retry schedule (WEBHOOK_RETRY_DELAYS,
with jitter) until WEBHOOK_MAX_ATTEMPTS. An endpoint answering 410 Gone is disabled at once, one
failing without a break for WEBHOOK_DISABLE_AFTER_HOURS is disabled too; either way its
organisation's admins are emailed.
"""

import json
import logging
import random
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal import emails, permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import Role, User
from sharing.models import (
    PublishedObject,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageState,
)
from sharing.services.webhook_messages import (
    check_target_url,
    encrypt,
    new_secret,
    payload_for,
    test_payload_for,
)
from sharing.transports.webhook import DeliveryError, WebhookTransport

logger = logging.getLogger(__name__)

# --- Endpoints ---------------------------------------------------------------------------


ADMINS_ONLY = "Only organisation admins may manage webhooks."


def require_webhook_admin(acting_user: User, endpoint: WebhookEndpoint | None = None) -> None:
    """Organisation admins manage webhooks, and only their own organisation's endpoints.
    Views load an endpoint through selectors.access_webhook (404 for another organisation's);
    this holds for any other caller too."""
    permissions.require(
        permissions.can_administer_organisation(acting_user)
        and (endpoint is None or acting_user.organisation_id == endpoint.organisation_id),
        ADMINS_ONLY,
    )


def record_endpoint_action(
    action: AuditAction, *, actor: User | None, endpoint: WebhookEndpoint, **detail: Any
) -> None:
    """The audit row of an action on an endpoint: its organisation, `webhook:<id>` as the
    target, its URL and `detail` (never a secret)."""
    audit.record(
        action=action,
        actor=actor,
        organisation=endpoint.organisation,
        target=f"webhook:{endpoint.pk}",
        detail={"url": endpoint.url, **detail},
    )


def register_endpoint(
    *, acting_user: User, url: str, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint for the user's organisation.

    Returns the endpoint and its signing secret, which is shown once and never again.
    Raises PermissionDenied for non-admins and ValidationError for an unacceptable URL.
    """
    require_webhook_admin(acting_user)
    check_target_url(url)
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organisation=acting_user.organisation,
            url=url,
            description=description[:200],
            encrypted_secret=encrypt(secret),
            created_by=acting_user,
        )
        record_endpoint_action(AuditAction.WEBHOOK_REGISTERED, actor=acting_user, endpoint=endpoint)
    return endpoint, secret


def remove_endpoint(*, acting_user: User, endpoint: WebhookEndpoint) -> None:
    require_webhook_admin(acting_user, endpoint)
    with transaction.atomic():
        record_endpoint_action(AuditAction.WEBHOOK_REMOVED, actor=acting_user, endpoint=endpoint)
        endpoint.delete()


# --- Messages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    """A message's state after an attempt, and in how many seconds to try again (if at all)."""

    state: str
    retry_in: int | None


def send_message(*, message_id: int, now: datetime | None = None) -> SendOutcome | None:
    """Attempt one POST of a due message. Returns the outcome, or None if not claimed."""
    return send_messages(message_ids=[message_id], now=now).get(message_id)


def send_messages(*, message_ids: list[int], now: datetime | None = None) -> dict[int, SendOutcome]:
    """Attempt one POST of each due message among `message_ids`, concurrently (at most
    WEBHOOK_CONCURRENCY at a time). Returns the outcome of each message this call claimed;
    a message another sender holds, or not yet due, is left alone.

    Claiming moves `next_attempt_at` a lease ahead, so no other sender takes the message
    while it is being posted. Each publication's body is built once for all its endpoints.
    The caller schedules retries (sharing.tasks); a lost retry is found by the sweeper, since
    the row's `next_attempt_at` already says when it is due. Messages of a disabled endpoint
    are never claimed. `now` is the clock (tests inject it).
    """
    now = now or timezone.now()
    # Held until the send task's hard time limit: no other sender takes a message while a
    # task may still be posting it.
    lease = timedelta(seconds=settings.WEBHOOK_TASK_TIME_LIMIT)
    with transaction.atomic():
        claimed = list(
            WebhookMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                id__in=message_ids,
                state=WebhookMessageState.PENDING,
                next_attempt_at__lte=now,
                endpoint__is_active=True,
            )
            # A suspended organisation's messages are not sent (portal.services.organisations).
            .exclude(endpoint__organisation__suspended_at__isnull=False)
            .values_list("id", flat=True)
        )
        WebhookMessage.objects.filter(id__in=claimed).update(
            attempts=F("attempts") + 1, next_attempt_at=now + lease
        )
    if not claimed:
        return {}
    messages = list(
        WebhookMessage.objects.select_related(
            "endpoint__organisation", "publication", "publication__organisation"
        ).filter(id__in=claimed)
    )
    items_of: dict[int, list] = {}
    for item in PublishedObject.objects.filter(
        publication_id__in={m.publication_id for m in messages}
    ).only("publication_id", "body", "receipt"):
        items_of.setdefault(item.publication_id, []).append(item)
    publications = {m.publication_id: m.publication for m in messages}
    bodies = {
        publication_id: json.dumps(
            payload_for(publications[publication_id], items), separators=(",", ":")
        )
        for publication_id, items in items_of.items()
    }
    for message in messages:
        if message.publication_id is None:  # a test event
            bodies[("message", message.id)] = json.dumps(
                test_payload_for(message, at=now), separators=(",", ":")
            )

    transport = WebhookTransport(bodies)

    def attempt(message: WebhookMessage) -> tuple[WebhookAttempt, bool]:
        started = time.monotonic()
        record = WebhookAttempt(message=message, number=message.attempts, started_at=now)
        permanent = False
        try:
            record.status_code = transport.send(message)
            record.succeeded = True
        except DeliveryError as exc:
            record.status_code = exc.status_code
            record.error = str(exc)[:2000]
            permanent = exc.permanent
        record.duration_ms = int((time.monotonic() - started) * 1000)
        return record, permanent

    # Endpoints that have been failing go last, so known-bad receivers do not take the threads
    # first while healthy ones wait.
    messages.sort(key=lambda message: message.endpoint.failing_since is not None)
    with ThreadPoolExecutor(min(len(messages), settings.WEBHOOK_CONCURRENCY)) as pool:
        attempts = list(pool.map(attempt, messages))
    return _record_attempts(messages, attempts, now=now)


def _record_attempts(
    messages: list[WebhookMessage],
    attempts: list[tuple[WebhookAttempt, bool]],
    *,
    now: datetime,
) -> dict[int, SendOutcome]:
    """Store the attempts, each message's new state and each endpoint's failure streak, a few
    queries for the whole batch; disable the endpoints that answered 410 Gone or have failed
    for too long."""
    outcomes: dict[int, SendOutcome] = {}
    succeeded, given_up, retry_at = [], [], defaultdict(list)
    working, failing, gone = set(), set(), {}
    for message, (record, permanent) in zip(messages, attempts, strict=True):
        if record.succeeded:
            working.add(message.endpoint_id)
        else:
            failing.add(message.endpoint_id)
        if record.status_code == 410:
            # Standard Webhooks, "Retry schedule": 410 Gone means the endpoint is gone for good.
            gone[message.endpoint_id] = message.endpoint
        if record.succeeded:
            succeeded.append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.SUCCEEDED, None)
        elif (
            permanent
            or record.status_code == 410
            or message.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
        ):
            given_up.append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.FAILED, None)
        else:
            delay = retry_delay(message.attempts)
            retry_at[delay].append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.PENDING, delay)
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create([record for record, _ in attempts])
        WebhookMessage.objects.filter(id__in=succeeded).update(
            state=WebhookMessageState.SUCCEEDED, succeeded_at=now
        )
        WebhookMessage.objects.filter(id__in=given_up).update(state=WebhookMessageState.FAILED)
        for delay, ids in retry_at.items():
            WebhookMessage.objects.filter(id__in=ids).update(
                next_attempt_at=now + timedelta(seconds=delay)
            )
        # A success anywhere in the batch ends the endpoint's failure streak.
        WebhookEndpoint.objects.filter(id__in=working).update(failing_since=None)
        WebhookEndpoint.objects.filter(id__in=failing - working, failing_since__isnull=True).update(
            failing_since=now
        )
        too_long = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
        for endpoint in WebhookEndpoint.objects.select_related("organisation").filter(
            id__in=failing - working - set(gone), is_active=True, failing_since__lte=too_long
        ):
            hours = settings.WEBHOOK_DISABLE_AFTER_HOURS
            disable_endpoint(
                endpoint=endpoint, reason=f"every attempt failed for {hours} hours", now=now
            )
        for endpoint in gone.values():
            disable_endpoint(endpoint=endpoint, reason="the endpoint answered 410 Gone", now=now)
    return outcomes


def retry_delay(attempts_made: int, *, rng: random.Random | None = None) -> int:
    """Seconds before the next attempt after `attempts_made` attempts: the configured delay
    (Standard Webhooks schedule by default; the last value repeats), spread at random by up
    to WEBHOOK_RETRY_JITTER either way so endpoints that failed together are not retried in
    lockstep."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    delay = delays[min(attempts_made, len(delays)) - 1]
    jitter = settings.WEBHOOK_RETRY_JITTER
    if jitter <= 0:
        return delay
    return max(1, round(delay * (1 + (rng or random).uniform(-jitter, jitter))))


def disable_endpoint(
    *, endpoint: WebhookEndpoint, reason: str, now: datetime, acting_user: User | None = None
) -> bool:
    """Disable an endpoint: its pending messages give up, nothing more is sent to it until an
    admin re-enables it, and its organisation's admins are emailed (once the transaction
    commits). Returns False when it was already disabled (nothing happens then)."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:200]
        )
        if not changed:
            return False
        WebhookMessage.objects.filter(
            endpoint_id=endpoint.pk, state=WebhookMessageState.PENDING
        ).update(state=WebhookMessageState.FAILED)
        record_endpoint_action(
            AuditAction.WEBHOOK_DISABLED, actor=acting_user, endpoint=endpoint, reason=reason
        )
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
        _email_admins(endpoint, template="webhook_disabled", context={"reason": reason})
    return True


def _email_admins(endpoint: WebhookEndpoint, *, template: str, context: dict[str, Any]) -> None:
    """Email the endpoint's organisation admins once the transaction commits: subject, text
    and HTML parts from templates/sharing/email/<template>_{subject.txt,body.txt,body.html}."""
    admins = list(
        User.objects.filter(
            organisation_id=endpoint.organisation_id, role__gte=Role.ORG_ADMIN, is_active=True
        ).values_list("email", flat=True)
    )
    if not admins:
        return
    message = emails.compose(
        to=admins,
        template=f"sharing/email/{template}",
        context={"endpoint": endpoint, "organisation": endpoint.organisation, **context},
    )
    transaction.on_commit(message.send)
