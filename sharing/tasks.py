"""Celery tasks of the sharing pipeline: thin triggers that run a batch stage, then fire the
next one.

A stage's service commits before it returns, so firing the next stage after the call is firing
it on commit. A stage that handled a full batch fires itself again, so a backlog drains in
batches while other tasks interleave. Triggers never raise (portal.celery.fire): a broker
outage delays work until the sweeper, it loses nothing.
"""

from celery import shared_task

from ledger import tasks as ledger_tasks
from ledger.chain import ChainError
from portal.celery import fire
from sharing.services import pipeline, webhooks


@shared_task
def seal_received() -> int:
    sealed = pipeline.seal_received()
    if sealed:
        fire(ledger_tasks.anchor)
    if sealed >= pipeline.batch_size():
        fire(seal_received)
    return sealed


@shared_task
def deliver_anchored() -> int:
    delivered, message_ids = pipeline.deliver_anchored()
    for message_id in message_ids:
        fire(send_webhook, message_id)
    if delivered:
        fire(verify_deliveries)
    if delivered >= pipeline.batch_size():
        fire(deliver_anchored)
    return delivered


@shared_task
def send_webhook(message_id: int) -> str | None:
    outcome = webhooks.send_message(message_id=message_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        try:
            send_webhook.apply_async((message_id,), countdown=outcome.retry_in)
        except Exception:  # noqa: BLE001 - the sweeper re-drives due messages
            pass
    return outcome.state


@shared_task(autoretry_for=(ChainError,), retry_backoff=2, max_retries=8)
def verify_deliveries() -> int:
    verified = pipeline.verify_pending()
    if verified >= pipeline.batch_size():
        fire(verify_deliveries)
    return verified


@shared_task
def sweep() -> dict:
    """Fire every stage that has work nobody came for (see pipeline.sweep)."""
    found = pipeline.sweep()
    for stage, task in (
        ("sealing", seal_received),
        ("anchoring", ledger_tasks.anchor),
        ("delivering", deliver_anchored),
        ("verifying", verify_deliveries),
    ):
        if found[stage]:
            fire(task)
    for message_id in found["webhooks"]:
        fire(send_webhook, message_id)
    return {
        stage: len(value) if isinstance(value, list) else int(value)
        for stage, value in found.items()
    }


def on_checkpoint_confirmed(checkpoint_id: int) -> None:
    """Ledger listener (registered in SharingConfig.ready): anchored objects may be deliverable."""
    fire(deliver_anchored)
