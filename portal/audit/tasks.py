"""Celery tasks of the audit trail."""

from celery import shared_task

from portal.audit import services


@shared_task
def anchor_audit_head() -> int | None:
    """Beat task: seal the chain head for anchoring if it moved. Returns the anchored seq."""
    anchor = services.anchor_head()
    return anchor.seq if anchor is not None else None
