"""Celery tasks of the sharing pipeline: thin triggers that call a service with a row id."""

from celery import shared_task

from ledger.chain import ChainError
from sharing.services import pipeline, webhooks


@shared_task
def seal_publication(publication_id: int) -> bool:
    return pipeline.seal_publication(publication_id=publication_id)


@shared_task
def deliver_publication(publication_id: int) -> bool:
    return pipeline.deliver_publication(publication_id=publication_id)


@shared_task
def send_webhook(message_id: int) -> str | None:
    return webhooks.send_message(message_id=message_id)


@shared_task(bind=True, autoretry_for=(ChainError,), retry_backoff=2, max_retries=8)
def verify_delivery(self, delivery_id: int) -> str:
    return pipeline.verify_delivery(delivery_id=delivery_id)


@shared_task
def sweep() -> dict[str, int]:
    return pipeline.sweep()
