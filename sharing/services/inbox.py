"""What recipients do with their inbox: acknowledge a delivery, and mark it read.

An acknowledgement is the recipient organisation's own verdict on a delivered publication
(its own verification of the copy, independent of the portal's), with an optional comment for
the publisher. The latest acknowledgement stands: a second one replaces the first on the
delivery row (so the publisher sees the current verdict), and every one is kept in the audit
trail with the outcome it replaced.

Read markers are per user (sharing.models.DeliveryRead, InboxReadMark).
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import User
from sharing.models import AcknowledgementOutcome, Delivery, DeliveryRead, InboxReadMark

COMMENT_MAX_LENGTH = 2000


@transaction.atomic
def acknowledge_delivery(
    *, acting_user: User, delivery: Delivery, outcome: str, comment: str = ""
) -> Delivery:
    """Record the recipient's verdict on `delivery` (loaded through `access_delivery`, so it
    is the acting user's organisation's). Publishers and organisation admins of the recipient
    may acknowledge: it speaks for the organisation. ValidationError, writing nothing, for an
    outcome other than "verified" or "failed" or a comment over COMMENT_MAX_LENGTH characters.
    """
    permissions.require(
        permissions.can_publish(acting_user)
        and acting_user.organisation_id == delivery.organisation_id,
        "Only publishers and organisation admins of the recipient may acknowledge.",
    )
    if outcome not in AcknowledgementOutcome.values:
        raise ValidationError('The outcome must be "verified" or "failed".')
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            f"The comment must be at most {COMMENT_MAX_LENGTH} characters (it has {len(comment)})."
        )
    delivery = Delivery.objects.select_for_update(of=("self",)).get(pk=delivery.pk)
    previous = delivery.acknowledgement
    delivery.acknowledgement = outcome
    delivery.acknowledgement_comment = comment
    delivery.acknowledged_at = timezone.now()
    delivery.acknowledged_by = acting_user
    delivery.save(
        update_fields=[
            "acknowledgement",
            "acknowledgement_comment",
            "acknowledged_at",
            "acknowledged_by",
        ]
    )
    audit.record(
        action=AuditAction.DELIVERY_ACKNOWLEDGED,
        actor=acting_user,
        organisation=acting_user.organisation,
        target=f"delivery:{delivery.pk}",
        detail={
            "publication": delivery.publication_id,
            "outcome": outcome,
            "comment": comment,
            "replaces": previous,
        },
    )
    return delivery


def mark_read(*, user: User, delivery: Delivery) -> None:
    """Mark `delivery` (one of the user's organisation's) read for `user`; idempotent, one
    query."""
    DeliveryRead.objects.bulk_create(
        [DeliveryRead(user=user, delivery=delivery)], ignore_conflicts=True
    )


@transaction.atomic
def mark_all_read(*, user: User, now: datetime | None = None) -> None:
    """Everything in the user's inbox up to `now` counts as read: the high-water mark moves,
    and the per-delivery rows below it are dropped."""
    now = now or timezone.now()
    InboxReadMark.objects.update_or_create(user=user, defaults={"read_before": now})
    DeliveryRead.objects.filter(user=user, delivery__created_at__lte=now).delete()
