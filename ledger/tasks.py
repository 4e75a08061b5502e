"""Celery tasks of the ledger."""

from celery import shared_task

from ledger import finality, services
from ledger.chain import ChainError


@shared_task(autoretry_for=(ChainError,), retry_backoff=2, retry_backoff_max=60, max_retries=None)
def anchor() -> list[int]:
    """Anchor every sealed entry (group commit); a busy sender makes this a no-op."""
    return services.anchor_pending()


@shared_task(autoretry_for=(ChainError,), retry_backoff=2, retry_backoff_max=60, max_retries=8)
def watch_finality() -> dict:
    """Mark confirmed checkpoints final, anchor again those a reorganisation took away."""
    report = finality.watch_finality()
    return {
        "busy": report.busy,
        "watched": report.watched,
        "finalized": report.finalized,
        "reanchored": report.reanchored,
        "moved": report.moved,
        "superseded": report.superseded,
    }
