"""Celery tasks of the sharing pipeline: thin triggers that run a batch stage, then fire the
next one.

A stage's service commits before it returns, so firing the next stage after the call is firing
it on commit. A stage that handled a full batch fires itself again, so a backlog drains in
batches while other tasks interleave. Triggers never raise (portal.celery.fire): a broker
outage delays work until the sweeper, it loses nothing.
"""

import logging

from celery import shared_task
from django.conf import settings

from ledger import tasks as ledger_tasks
from ledger.chain import ChainError
from portal.celery import WEBHOOK_POOL, fire, fire_once, started
from sharing.services import notifications, pipeline, webhooks

logger = logging.getLogger(__name__)


@shared_task
def seal_received() -> int:
    started(seal_received)
    sealed = pipeline.seal_received()
    if sealed:
        fire(ledger_tasks.anchor)
    if sealed >= pipeline.batch_size():
        fire_once(seal_received)
    return sealed


@shared_task
def deliver_anchored() -> int:
    started(deliver_anchored)
    delivered, message_ids = pipeline.deliver_anchored()
    _fire_webhooks(message_ids)
    if delivered:
        fire_once(verify_deliveries)
        fire_once(send_email_notices)
    if delivered >= pipeline.batch_size():
        fire_once(deliver_anchored)
    return delivered


def _fire_webhooks(message_ids: list[int]) -> None:
    batch = settings.WEBHOOK_BATCH_SIZE
    for start in range(0, len(message_ids), batch):
        fire(send_webhooks, message_ids[start : start + batch])


# Webhook sends run in their own pool (portal.celery.route_task) with time limits sized from
# WEBHOOK_TIMEOUT_SECONDS (settings.CELERY_TASK_ANNOTATIONS).
@shared_task(worker_pool=WEBHOOK_POOL)
def send_webhooks(message_ids: list[int]) -> dict[str, int]:
    """POST a batch of webhook messages concurrently; schedule each failure's retry."""
    outcomes = webhooks.send_messages(message_ids=message_ids)
    _schedule_retries(outcomes)
    return {str(message_id): outcome.state for message_id, outcome in outcomes.items()}


@shared_task(worker_pool=WEBHOOK_POOL)
def send_webhook(message_id: int) -> str | None:
    outcome = webhooks.send_messages(message_ids=[message_id]).get(message_id)
    if outcome is None:
        return None
    _schedule_retries({message_id: outcome})
    return outcome.state


def _schedule_retries(outcomes: dict[int, webhooks.SendOutcome]) -> None:
    later: dict[int, list[int]] = {}
    for message_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            later.setdefault(outcome.retry_in, []).append(message_id)
    for delay, message_ids in later.items():
        try:
            if len(message_ids) == 1:
                send_webhook.apply_async((message_ids[0],), countdown=delay)
            else:
                send_webhooks.apply_async((message_ids,), countdown=delay)
        except Exception:  # noqa: BLE001 - the sweeper re-drives due messages
            logger.warning("could not schedule webhook retries; the sweeper will", exc_info=True)


@shared_task(autoretry_for=(ChainError,), retry_backoff=2, max_retries=8)
def verify_deliveries() -> int:
    started(verify_deliveries)
    verified = pipeline.verify_pending()
    if verified >= pipeline.batch_size():
        fire_once(verify_deliveries)
    return verified


@shared_task
def sweep() -> dict:
    """Fire every stage that has work nobody came for (see pipeline.sweep)."""
    found = pipeline.sweep()
    if found["anchoring"]:
        fire(ledger_tasks.anchor)
    for stage, task in (
        ("sealing", seal_received),
        ("delivering", deliver_anchored),
        ("verifying", verify_deliveries),
    ):
        if found[stage]:
            fire_once(task)
    if notifications.has_due():
        fire_once(send_email_notices)
    _fire_webhooks(found["webhooks"])
    return {
        stage: len(value) if isinstance(value, list) else int(value)
        for stage, value in found.items()
    }


@shared_task(autoretry_for=(ChainError,), retry_backoff=2, max_retries=8)
def reissue_receipts(checkpoint_id: int) -> int:
    """Receipts of a checkpoint anchored anew after a reorganisation; then verify again."""
    reissued = pipeline.reissue_receipts(checkpoint_id=checkpoint_id)
    if reissued:
        fire_once(verify_deliveries)
    return reissued


def on_checkpoint_reanchored(checkpoint_id: int) -> None:
    """Ledger listener (registered in SharingConfig.ready): receipts cite a lost anchor."""
    fire(reissue_receipts, checkpoint_id)


# Email notices one task sends, over one mail server connection.
EMAIL_BATCH = 100


@shared_task
def send_email_notices() -> dict[str, int]:
    """Send a batch of due email notices; a full batch starts the next one as soon as it is
    claimed, so a backlog is sent by every free worker process. Schedule a run for the
    earliest retry."""
    started(send_email_notices)
    outcomes = notifications.send_due(limit=EMAIL_BATCH, on_claimed=_next_email_batch)
    retries = [o.retry_in for o in outcomes.values() if o.retry_in is not None]
    if retries:
        try:
            send_email_notices.apply_async(countdown=min(retries))
        except Exception:  # noqa: BLE001 - the sweeper re-drives due notices
            logger.warning("could not schedule email retries; the sweeper will", exc_info=True)
    states = [outcome.state for outcome in outcomes.values()]
    return {state: states.count(state) for state in set(states)}


def _next_email_batch(claimed: int) -> None:
    if claimed >= EMAIL_BATCH:
        fire_once(send_email_notices)


@shared_task
def send_email_digests() -> int:
    """Daily (beat entry "send-email-digests"): queue each member's digest, then send."""
    queued = notifications.queue_digests()
    if queued:
        fire_once(send_email_notices)
    return queued


def on_checkpoint_confirmed(checkpoint_id: int) -> None:
    """Ledger listener (registered in SharingConfig.ready): anchored objects may be deliverable."""
    fire_once(deliver_anchored)
