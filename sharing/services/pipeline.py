"""The publication pipeline after publishing: seal, (ledger anchors), deliver, verify.

Each stage is a batch function: it claims up to PIPELINE_BATCH_SIZE ready rows with
`SELECT ... FOR UPDATE OF <its own table> SKIP LOCKED`, does the work for all of them with bulk
queries in one transaction, and returns how many it handled. Concurrent runs take disjoint
rows; a crash rolls the batch back for the next run. Tasks (sharing.tasks) call these
functions and fire the next stage once they return, that is, after the commit. The sweeper
fires any stage that still has rows nobody came for, so a lost task only delays a publication.

Only the claimed rows are locked: `of=("self",)` keeps PostgreSQL from also locking the rows of
joined tables (an organisation shared by concurrent deliveries would deadlock them).
"""

import json
import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.bulk import bulk_set
from ledger.models import Checkpoint, CheckpointState, EntryState
from ledger.reader_cache import CachedAnchorReader
from ledger.verify import verify_item
from portal.audit.models import AuditAction
from portal.audit.services import record
from portal.models import Organisation, TrustGroup
from sharing.models import (
    ChannelKind,
    Delivery,
    Distribution,
    EmailKind,
    EmailNotice,
    NotificationChannel,
    Publication,
    PublicationChannel,
    PublicationRecipient,
    PublicationState,
    PublishedObject,
    VerificationState,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageState,
)
from sharing.services import subscriptions
from sharing.transports.inbox import InboxTransport

logger = logging.getLogger(__name__)


def batch_size() -> int:
    return settings.PIPELINE_BATCH_SIZE


# --- Seal --------------------------------------------------------------------------------


def seal_received(*, limit: int | None = None) -> int:
    """Seal every object of up to `limit` received publications with their organisations'
    keys, in one transaction. Returns how many publications were sealed."""
    with transaction.atomic():
        publications = list(
            _claimable(Publication.objects.filter(state=PublicationState.RECEIVED))
            .order_by("id")
            .only("id", "organisation_id")[: limit or batch_size()]
        )
        if not publications:
            return 0
        owners = dict(
            Organisation.objects.filter(
                id__in={publication.organisation_id for publication in publications}
            ).values_list("id", "stix_identity_id")
        )
        keys = {
            organisation_id: ledger_services.active_signing_key(owner=owner)
            for organisation_id, owner in owners.items()
        }
        organisation_of = {p.id: p.organisation_id for p in publications}
        items = list(
            PublishedObject.objects.filter(publication_id__in=organisation_of, entry__isnull=True)
            .select_related("client_key")
            .only(
                "id",
                "publication_id",
                "stix_id",
                "version",
                "body",
                "client_key",
                "client_salt",
                "client_signature",
            )
        )
        # A client-signed object keeps the organisation's own salt and signature (its key is
        # organisation-held: the portal cannot sign with it); the others are signed here.
        entries = ledger_services.seal_many(
            [
                ledger_services.SealRequest(
                    payload=item.body,
                    subject=f"{item.stix_id}@{item.version}",
                    signing_key=item.client_key or keys[organisation_of[item.publication_id]],
                    salt=bytes(item.client_salt) if item.client_key else None,
                    signature=bytes(item.client_signature) if item.client_key else None,
                )
                for item in items
            ]
        )
        for item, entry in zip(items, entries, strict=True):
            item.entry = entry
        bulk_set(items, ["entry"])
        _move(organisation_of, PublicationState.SEALED)
    return len(publications)


# --- Deliver -----------------------------------------------------------------------------


def deliver_anchored(*, limit: int | None = None) -> tuple[int, list[int]]:
    """Deliver up to `limit` sealed publications whose objects are all anchored: attach each
    object's receipt, create the inbox entries of the recipients fixed at publish time, a
    webhook message per endpoint that matched then (and is still active), and an email notice
    per member who chose an email per publication, in one transaction.

    Returns how many publications were delivered and the ids of the new webhook messages.
    """
    with transaction.atomic():
        publications = list(
            _claimable(_deliverable())
            .order_by("id")
            .only("id", "organisation_id", "distribution")[: limit or batch_size()]
        )
        if not publications:
            return 0, []
        ids = [publication.id for publication in publications]
        items = list(
            PublishedObject.objects.filter(publication_id__in=ids, receipt__isnull=True)
            .select_related("entry__signing_key")
            .defer("body")
        )
        receipts = ledger_selectors.receipts_for([item.entry for item in items])
        for item in items:
            item.receipt = receipts[item.entry_id]
        bulk_set(items, ["receipt"], batch_size=500)

        _fix_recipients_of_older(publications)
        # Suspended organisations get nothing, whatever was fixed when it was published.
        InboxTransport().send_many(
            [
                Delivery(publication_id=publication_id, organisation_id=organisation_id)
                for publication_id, organisation_id in PublicationRecipient.objects.filter(
                    publication_id__in=ids, organisation__suspended_at__isnull=True
                ).values_list("publication_id", "organisation_id")
            ]
        )
        WebhookMessage.objects.bulk_create(
            [
                WebhookMessage(endpoint_id=endpoint_id, publication_id=publication_id)
                for publication_id, endpoint_id in PublicationChannel.objects.filter(
                    publication_id__in=ids,
                    kind=ChannelKind.WEBHOOK,
                    endpoint__is_active=True,
                    endpoint__organisation__suspended_at__isnull=True,
                ).values_list("publication_id", "endpoint_id")
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        _queue_email_notices(ids)
        _stamp_delivered(ids)
        message_ids = list(
            WebhookMessage.objects.filter(
                publication_id__in=ids, state=WebhookMessageState.PENDING
            ).values_list("id", flat=True)
        )
    return len(ids), message_ids


# PostgreSQL advisory lock serialising the end of delivery transactions (see _stamp_delivered).
DELIVERY_ORDER_LOCK = 0x6374696465
_DELIVERY_ORDER_SQL = "SELECT pg_advisory_xact_lock(%s), clock_timestamp()"


def _stamp_delivered(publication_ids: list[int]) -> None:
    """Mark publications delivered, stamping `delivered_at` in commit order.

    Readers page through deliveries by (delivered_at, id) (TAXII's `added_after` and `next`).
    A timestamp taken when a transaction starts would let a slow delivery commit after a
    quicker one stamped later, so a reader who paged past the quicker one would never see it.
    Stamping under a transaction-level lock, with the time the lock was granted
    (clock_timestamp(), not the transaction's start), orders stamps like commits: whoever
    holds the lock commits before the next one stamps. Only this last statement is
    serialised. (SQLite serialises writing transactions anyway.)
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        # The database's clock, not this worker's: workers on several hosts share one order.
        with connection.cursor() as cursor:
            cursor.execute(_DELIVERY_ORDER_SQL, [DELIVERY_ORDER_LOCK])
            now = cursor.fetchone()[1]
    Publication.objects.filter(id__in=publication_ids).update(
        state=PublicationState.DELIVERED, state_changed_at=now, delivered_at=now
    )


# --- Recipients and channels, fixed at publish time -----------------------------------------


def record_recipients(publications: list[Publication]) -> None:
    """Fix who receives each publication and by which channels, as of now: a
    PublicationRecipient row per entitled organisation, and a PublicationChannel row per
    member email / digest and per active webhook endpoint whose filters match.

    Called in the publishing transaction; the deliver stage reads these rows, so a trust group
    changed between publishing and delivery changes nothing for this publication. A fixed
    number of queries however many publications.
    """
    if not publications:
        return
    entitled = recipients_of(publications)
    facts = subscriptions.facts_of(publications)
    PublicationRecipient.objects.bulk_create(
        [
            PublicationRecipient(publication_id=publication_id, organisation_id=organisation_id)
            for publication_id, organisations in entitled.items()
            for organisation_id in organisations
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    organisation_ids = {o for organisations in entitled.values() for o in organisations}
    endpoints = list(
        WebhookEndpoint.objects.filter(organisation_id__in=organisation_ids, is_active=True).only(
            "id", "organisation_id", *subscriptions.FILTER_FIELDS
        )
    )
    members = subscriptions.effective_settings(organisation_ids=organisation_ids)
    channels = []
    for publication_id, organisations in entitled.items():
        publication_facts = facts[publication_id]
        for endpoint in endpoints:
            if endpoint.organisation_id in organisations and subscriptions.matches(
                endpoint, publication_facts
            ):
                channels.append(
                    PublicationChannel(
                        publication_id=publication_id,
                        kind=ChannelKind.WEBHOOK,
                        endpoint_id=endpoint.id,
                    )
                )
        for user_id, (organisation_id, choice) in members.items():
            if (
                organisation_id in organisations
                and choice.channel != NotificationChannel.NONE
                and subscriptions.matches(choice, publication_facts)
            ):
                channels.append(
                    PublicationChannel(
                        publication_id=publication_id,
                        kind=ChannelKind.EMAIL
                        if choice.channel == NotificationChannel.EMAIL
                        else ChannelKind.DIGEST,
                        user_id=user_id,
                    )
                )
    PublicationChannel.objects.bulk_create(channels, ignore_conflicts=True, batch_size=1000)


def _fix_recipients_of_older(publications: list[Publication]) -> None:
    """Publications stored before recipients were fixed at publish time get them now."""
    fixed = set(
        PublicationRecipient.objects.filter(
            publication_id__in=[p.id for p in publications]
        ).values_list("publication_id", flat=True)
    )
    record_recipients([p for p in publications if p.id not in fixed])


def _queue_email_notices(publication_ids: list[int]) -> None:
    """An email notice per member email channel of these publications whose member is active
    and still in a recipient organisation (sent by sharing.tasks.send_email_notices)."""
    channels = list(
        PublicationChannel.objects.filter(
            publication_id__in=publication_ids,
            kind=ChannelKind.EMAIL,
            notice__isnull=True,
            user__is_active=True,
            user__organisation__suspended_at__isnull=True,
        )
        .filter(Exists(still_entitled()))
        .only("id", "user_id")
    )
    notices = EmailNotice.objects.bulk_create(
        [EmailNotice(user_id=channel.user_id, kind=EmailKind.NOTICE) for channel in channels]
    )
    for channel, notice in zip(channels, notices, strict=True):
        channel.notice = notice
    bulk_set(channels, ["notice"])


def still_entitled() -> QuerySet[PublicationRecipient]:
    """For a PublicationChannel queryset (`Exists(still_entitled())`): the channel's member
    still belongs to an organisation fixed as a recipient (not one they moved to since)."""
    return PublicationRecipient.objects.filter(
        publication=OuterRef("publication"), organisation=OuterRef("user__organisation")
    )


def recipients(publication: Publication) -> list[Organisation]:
    """Every organisation entitled to the publication, the publisher included."""
    organisation_ids = recipients_of([publication])[publication.id]
    return list(Organisation.objects.filter(id__in=organisation_ids))


def recipients_of(publications: list[Publication]) -> dict[int, set[int]]:
    """The ids of the organisations entitled to each publication (publisher included), with a
    fixed number of queries however many publications."""
    entitled = {publication.id: {publication.organisation_id} for publication in publications}
    if any(p.distribution == Distribution.COMMUNITY for p in publications):
        everyone = set(Organisation.objects.values_list("id", flat=True))
        for publication in publications:
            if publication.distribution == Distribution.COMMUNITY:
                entitled[publication.id] |= everyone
    grouped = [p.id for p in publications if p.distribution == Distribution.TRUST_GROUPS]
    if grouped:
        groups_of = defaultdict(set)
        for publication_id, group_id in Publication.trust_groups.through.objects.filter(
            publication_id__in=grouped
        ).values_list("publication_id", "trustgroup_id"):
            groups_of[publication_id].add(group_id)
        members_of = defaultdict(set)
        for group_id, organisation_id in TrustGroup.members.through.objects.filter(
            trustgroup_id__in={g for groups in groups_of.values() for g in groups}
        ).values_list("trustgroup_id", "organisation_id"):
            members_of[group_id].add(organisation_id)
        for publication_id, groups in groups_of.items():
            for group_id in groups:
                entitled[publication_id] |= members_of[group_id]
    return drop_suspended(entitled)


def drop_suspended(entitled: dict[int, set[int]]) -> dict[int, set[int]]:
    """`entitled` without the organisations that are suspended (portal.services.organisations):
    they receive nothing on any channel while suspended. One query."""
    suspended = set(
        Organisation.objects.filter(
            id__in={o for organisations in entitled.values() for o in organisations},
            suspended_at__isnull=False,
        ).values_list("id", flat=True)
    )
    if not suspended:
        return entitled
    return {pid: organisations - suspended for pid, organisations in entitled.items()}


# --- Verify ------------------------------------------------------------------------------


def verify_pending(*, limit: int | None = None) -> int:
    """Verify up to `limit` pending deliveries against the chain; returns how many.

    Each delivered copy is checked from its own object and receipt (canonical hash, salted
    leaf, signature, inclusion proof), never from the portal's ledger tables. The on-chain
    facts of each checkpoint (chain id, contract code, root at its size, the anchoring
    transaction's block) are read once per batch, not once per copy. Raises ChainError when
    the node cannot be reached; the batch rolls back and stays pending.
    """
    with transaction.atomic():
        deliveries = list(
            _claimable(Delivery.objects.filter(verification=VerificationState.PENDING))
            .order_by("id")
            .only("id", "publication_id")[: limit or batch_size()]
        )
        if not deliveries:
            return 0
        _verify(deliveries)
    return len(deliveries)


def verify_delivery(*, delivery_id: int, again: bool = False) -> str:
    """Verify one delivered copy (again, when `again`) and return its verification state."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .only("id", "publication_id", "verification")
            .get(pk=delivery_id)
        )
        if delivery.verification != VerificationState.PENDING and not again:
            return delivery.verification
        return _verify([delivery])[delivery.id]


def _verify(deliveries: list[Delivery]) -> dict[int, str]:
    chain = CachedAnchorReader(ledger_services.chain_client())
    chain.chain_id()  # an unreachable node is a reason to retry, not a failed verification
    items_of = defaultdict(list)
    for item in PublishedObject.objects.filter(
        publication_id__in={delivery.publication_id for delivery in deliveries}
    ).only("id", "publication_id", "stix_id", "version", "body", "receipt"):
        items_of[item.publication_id].append(item)
    # Copies with the same report (every copy of one publication, when all verify) are
    # recorded by one UPDATE each.
    by_outcome: dict[str, list[int]] = defaultdict(list)
    reports: dict[str, list[dict]] = {}
    states = {}
    for delivery in deliveries:
        report = []
        for item in items_of[delivery.publication_id]:
            failed = [c for c in verify_item(item.body, item.receipt, chain=chain) if not c.ok]
            report.append(
                {
                    "object": item.stix_id,
                    "version": item.version,
                    "ok": not failed,
                    "failed": [{"check": c.name, "detail": c.detail} for c in failed],
                }
            )
        all_ok = all(entry["ok"] for entry in report)
        if not all_ok:
            ledger_services.chain_client().chain_id()  # the node went away: retry, don't fail
            logger.error("delivery %s failed verification: %s", delivery.pk, report)
        outcome = json.dumps(report, sort_keys=True)
        reports[outcome] = report
        by_outcome[outcome].append(delivery.id)
        states[delivery.id] = VerificationState.VERIFIED if all_ok else VerificationState.FAILED
    now = timezone.now()
    for outcome, delivery_ids in by_outcome.items():
        Delivery.objects.filter(id__in=delivery_ids).update(
            verification=states[delivery_ids[0]],
            verified_at=now,
            verification_report=reports[outcome],
        )
    return states


# --- Receipts after a reorganisation --------------------------------------------------------


def reissue_receipts(*, checkpoint_id: int) -> int:
    """Issue anew the receipts of the objects anchored by a checkpoint whose anchoring
    transaction or block changed after a reorganisation (ledger.finality), and ask for every
    affected delivery to be verified again. Returns how many receipts changed.

    Idempotent: a receipt that already cites the checkpoint's current transaction and block is
    left alone, and nothing is recorded when nothing changed. Receipts of a checkpoint that is
    not confirmed (anchored again, still waiting) are left until it is. The audit row (action
    receipts_reissued, by the platform) lands in the same transaction.
    """
    with transaction.atomic():
        checkpoint = Checkpoint.objects.filter(
            pk=checkpoint_id, state=CheckpointState.CONFIRMED
        ).first()
        if checkpoint is None:
            return 0
        items = list(
            _claimable(
                PublishedObject.objects.filter(
                    entry__checkpoint_id=checkpoint_id, receipt__isnull=False
                )
            )
            .select_related("entry__signing_key")
            .defer("body")
        )
        if not items:
            return 0
        fresh = ledger_selectors.receipts_for([item.entry for item in items])
        changed = [item for item in items if item.receipt != fresh[item.entry_id]]
        if not changed:
            return 0
        for item in changed:
            item.receipt = fresh[item.entry_id]
        bulk_set(changed, ["receipt"], batch_size=500)
        publication_ids = sorted({item.publication_id for item in changed})
        again = Delivery.objects.filter(publication_id__in=publication_ids).update(
            verification=VerificationState.PENDING, verification_requested_at=timezone.now()
        )
        record(
            action=AuditAction.RECEIPTS_REISSUED,
            target=f"checkpoint {checkpoint.tree_size}",
            detail={
                "tree_size": checkpoint.tree_size,
                "transaction_hash": checkpoint.transaction_hash,
                "block_number": checkpoint.block_number,
                "lost": [lost["transaction_hash"] for lost in checkpoint.reorganised],
                "receipts": len(changed),
                "publications": len(publication_ids),
                "deliveries_to_verify": again,
            },
        )
    logger.warning(
        "checkpoint %s anchored anew: %s receipts reissued, %s deliveries to verify again",
        checkpoint.tree_size,
        len(changed),
        again,
    )
    return len(changed)


# --- Helpers and the sweeper -------------------------------------------------------------


def _deliverable() -> QuerySet[Publication]:
    """Sealed publications whose objects are all anchored (`anchored`: the state of earlier
    versions of the pipeline, delivered the same way)."""
    # A checkpoint being anchored again after a reorganisation is submitted, not confirmed:
    # its objects wait, their receipt would cite no block.
    unanchored = PublishedObject.objects.filter(publication=OuterRef("pk")).exclude(
        entry__state=EntryState.ANCHORED, entry__checkpoint__state=CheckpointState.CONFIRMED
    )
    return Publication.objects.filter(
        state__in=[PublicationState.SEALED, PublicationState.ANCHORED]
    ).filter(~Exists(unanchored))


def _claimable(queryset: QuerySet) -> QuerySet:
    """Lock the rows this run takes, skipping rows another run holds; never joined rows."""
    return queryset.select_for_update(skip_locked=True, of=("self",))


def _move(publication_ids, state: PublicationState) -> None:
    Publication.objects.filter(id__in=list(publication_ids)).update(
        state=state, state_changed_at=timezone.now()
    )


SWEEP_BATCH = 1000


def sweep() -> dict[str, list[int] | bool]:
    """Find work that no task came for. Returns, per stage, whether it has stuck rows (batch
    stages) or which rows to re-drive (webhook messages, sent in batches); the caller fires.

    A re-driven webhook message is touched, so under a backlog it is fired again only after
    another SWEEP_STUCK_AFTER_SECONDS: duplicates stay few, and harmless since every step
    claims its rows by state.
    """
    stuck_before = timezone.now() - timedelta(seconds=settings.SWEEP_STUCK_AFTER_SECONDS)
    return {
        "sealing": Publication.objects.filter(
            state=PublicationState.RECEIVED, state_changed_at__lt=stuck_before
        ).exists(),
        "anchoring": ledger_selectors.has_unanchored_entries(),
        "delivering": _deliverable().exists(),
        "verifying": Delivery.objects.filter(
            verification=VerificationState.PENDING, verification_requested_at__lt=stuck_before
        ).exists(),
        "webhooks": _touch_stuck(
            # A suspended organisation's messages wait, unsent, until it is reinstated.
            WebhookMessage.objects.filter(state=WebhookMessageState.PENDING).exclude(
                endpoint__organisation__suspended_at__isnull=False
            ),
            "next_attempt_at",
            stuck_before,
        ),
    }


def _touch_stuck(queryset: QuerySet, field: str, stuck_before) -> list[int]:
    """Ids of rows whose `field` is older than `stuck_before`, touching `field`."""
    with transaction.atomic():
        ids = list(
            _claimable(queryset)
            .filter(**{f"{field}__lt": stuck_before})
            .order_by(field)
            .values_list("id", flat=True)[:SWEEP_BATCH]
        )
        queryset.model.objects.filter(id__in=ids).update(**{field: timezone.now()})
    return ids
