"""The publication pipeline after publishing: seal, (ledger anchors), deliver, verify.

Each step is an idempotent function of a row id: it claims the row by its state, does its work
in one transaction and fires the next step on commit. The sweeper calls the same functions for
rows that stayed too long in a state, so a lost task only delays a publication.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import EntryState
from ledger.verify import verify_item
from portal.models import Organisation
from portal.selectors import all_organisations, organisations_in_trust_groups
from sharing.models import (
    Delivery,
    Distribution,
    Publication,
    PublicationState,
    PublishedObject,
    VerificationState,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageState,
)

logger = logging.getLogger(__name__)


def seal_publication(*, publication_id: int) -> bool:
    """Seal every object of a received publication with its organisation's key."""
    from ledger import tasks as ledger_tasks

    with transaction.atomic():
        publication = _claim(publication_id, PublicationState.RECEIVED)
        if publication is None:
            return False
        key = ledger_services.active_signing_key(owner=publication.organisation.stix_identity_id)
        for obj in publication.items.filter(entry__isnull=True):
            obj.entry = ledger_services.seal(
                payload=obj.body, subject=f"{obj.stix_id}@{obj.version}", signing_key=key
            )
            obj.save(update_fields=["entry"])
        _move(publication, PublicationState.SEALED)
        transaction.on_commit(ledger_tasks.anchor.delay)
    return True


def on_checkpoint_confirmed(checkpoint_id: int) -> None:
    """Ledger listener: a checkpoint was confirmed, some publications may now be anchored."""
    advance_anchored_publications()


def advance_anchored_publications() -> list[int]:
    """Mark sealed publications whose objects are all anchored, and start their delivery."""
    from sharing import tasks

    unanchored_items = PublishedObject.objects.filter(publication=OuterRef("pk")).exclude(
        entry__state=EntryState.ANCHORED
    )
    ready = list(
        Publication.objects.filter(state=PublicationState.SEALED)
        .filter(~Exists(unanchored_items))
        .values_list("id", flat=True)
    )
    for publication_id in ready:
        changed = Publication.objects.filter(
            pk=publication_id, state=PublicationState.SEALED
        ).update(state=PublicationState.ANCHORED, state_changed_at=timezone.now())
        if changed:
            transaction.on_commit(
                lambda publication_id=publication_id: tasks.deliver_publication.delay(
                    publication_id
                )
            )
    return ready


def recipients(publication: Publication) -> list[Organisation]:
    """Every organisation entitled to the publication, the publisher included."""
    if publication.distribution == Distribution.COMMUNITY:
        organisations = all_organisations()
    elif publication.distribution == Distribution.TRUST_GROUPS:
        group_ids = list(publication.trust_groups.values_list("id", flat=True))
        organisations = organisations_in_trust_groups(group_ids=group_ids)
    else:
        organisations = Organisation.objects.none()
    entitled = {organisation.id: organisation for organisation in organisations}
    entitled[publication.organisation_id] = publication.organisation
    return list(entitled.values())


def deliver_publication(*, publication_id: int) -> bool:
    """Attach receipts, create inbox entries and webhook messages for an anchored publication."""
    from sharing import tasks

    with transaction.atomic():
        publication = _claim(publication_id, PublicationState.ANCHORED)
        if publication is None:
            return False
        objects = list(
            publication.items.select_related("entry", "entry__signing_key").filter(
                receipt__isnull=True
            )
        )
        receipts = ledger_selectors.receipts_for([obj.entry for obj in objects])
        for obj in objects:
            obj.receipt = receipts[obj.entry.id]
        PublishedObject.objects.bulk_update(objects, ["receipt"], batch_size=500)

        organisations = recipients(publication)
        Delivery.objects.bulk_create(
            [Delivery(publication=publication, organisation=o) for o in organisations],
            ignore_conflicts=True,
        )
        endpoints = WebhookEndpoint.objects.filter(organisation__in=organisations, is_active=True)
        WebhookMessage.objects.bulk_create(
            [WebhookMessage(endpoint=endpoint, publication=publication) for endpoint in endpoints],
            ignore_conflicts=True,
        )
        publication.delivered_at = timezone.now()
        _move(publication, PublicationState.DELIVERED)

        message_ids = list(
            WebhookMessage.objects.filter(publication=publication).values_list("id", flat=True)
        )
        delivery_ids = list(publication.deliveries.values_list("id", flat=True))

        def fire() -> None:
            for message_id in message_ids:
                tasks.send_webhook.delay(message_id)
            for delivery_id in delivery_ids:
                tasks.verify_delivery.delay(delivery_id)

        transaction.on_commit(fire)
    return True


def verify_delivery(*, delivery_id: int, again: bool = False) -> str:
    """Verify a delivered copy against the chain (not the portal's database) and record it.

    A delivery already verified is left alone unless `again`. Raises ChainError when the node
    cannot be reached, leaving the delivery pending.
    """
    delivery = Delivery.objects.select_related("publication").get(pk=delivery_id)
    if delivery.verification != VerificationState.PENDING and not again:
        return delivery.verification
    chain = ledger_services.chain_client()
    chain.chain_id()  # an unreachable node is a reason to retry, not a failed verification
    report = []
    all_ok = True
    for obj in delivery.publication.items.all():
        checks = verify_item(obj.body, obj.receipt, chain=chain)
        failed = [c for c in checks if not c.ok]
        all_ok = all_ok and not failed
        report.append(
            {
                "object": obj.stix_id,
                "version": obj.version,
                "ok": not failed,
                "failed": [{"check": c.name, "detail": c.detail} for c in failed],
            }
        )
    if not all_ok:
        chain.chain_id()  # a node that went away meanwhile: retry later rather than fail
    state = VerificationState.VERIFIED if all_ok else VerificationState.FAILED
    Delivery.objects.filter(pk=delivery.pk).update(
        verification=state, verified_at=timezone.now(), verification_report=report
    )
    if not all_ok:
        logger.error("delivery %s failed verification: %s", delivery.pk, report)
    return state


def _claim(publication_id: int, state: PublicationState) -> Publication | None:
    """Lock the publication if it is in `state` (else None: another run got there first)."""
    return (
        Publication.objects.select_for_update()
        .filter(pk=publication_id, state=state)
        .select_related("organisation")
        .first()
    )


def _move(publication: Publication, state: PublicationState) -> None:
    publication.state = state
    publication.state_changed_at = timezone.now()
    publication.save(update_fields=["state", "state_changed_at", "delivered_at"])


SWEEP_BATCH = 1000


def sweep() -> dict[str, int]:
    """Re-drive every row that stayed too long in a stage. Returns how many per stage.

    A re-driven row is touched, so under a backlog it is fired again only after another
    SWEEP_STUCK_AFTER_SECONDS, not at every sweep: duplicates stay few, and harmless since
    every step claims its row by state.
    """
    from ledger import tasks as ledger_tasks
    from sharing import tasks

    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.SWEEP_STUCK_AFTER_SECONDS)
    counts = {
        "sealing": _redrive(
            Publication.objects.filter(state=PublicationState.RECEIVED),
            "state_changed_at",
            stuck_before,
            tasks.seal_publication,
        ),
        "anchoring": int(ledger_selectors.has_unanchored_entries()),
    }
    if counts["anchoring"]:
        ledger_tasks.anchor.delay()
    with transaction.atomic():
        counts["anchored"] = len(advance_anchored_publications())
    counts["delivering"] = _redrive(
        Publication.objects.filter(state=PublicationState.ANCHORED),
        "state_changed_at",
        stuck_before,
        tasks.deliver_publication,
    )
    counts["webhooks"] = _redrive(
        WebhookMessage.objects.filter(state=WebhookMessageState.PENDING),
        "next_attempt_at",
        stuck_before,
        tasks.send_webhook,
    )
    counts["verifying"] = _redrive(
        Delivery.objects.filter(verification=VerificationState.PENDING),
        "verification_requested_at",
        stuck_before,
        tasks.verify_delivery,
    )
    return counts


def _redrive(queryset, field: str, stuck_before, task) -> int:
    """Fire `task` for rows whose `field` is older than `stuck_before`, touching `field`."""
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .filter(**{f"{field}__lt": stuck_before})
            .order_by(field)
            .values_list("id", flat=True)[:SWEEP_BATCH]
        )
        queryset.model.objects.filter(id__in=ids).update(**{field: timezone.now()})
        transaction.on_commit(lambda: [task.delay(row_id) for row_id in ids])
    return len(ids)
