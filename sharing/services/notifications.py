"""Email notices of deliveries: one per publication, or a daily digest, under the TLP rules.

TLP 2.0 (FIRST) and the portal's rule: an email never carries content above TLP:GREEN. A
CLEAR or GREEN publication's email may carry a summary (title, object types and counts); an
AMBER, AMBER+STRICT or RED one only says that there is a new item, from whom, at which TLP,
and links to the portal where the member logs in to read it.

Every email offers one-click unsubscribe (RFC 8058: `List-Unsubscribe` with an https URL and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`) and a link to the settings page. Notices
are rows (EmailNotice) claimed with `FOR UPDATE SKIP LOCKED`, each hand-over to the mail
server an EmailAttempt row; a failure is retried after EMAIL_RETRY_DELAYS until
EMAIL_MAX_ATTEMPTS, a permanent one (5xx) is given up at once.
"""

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, F
from django.urls import reverse
from django.utils import timezone

from portal import emails
from portal.models import User
from sharing.models import (
    ChannelKind,
    Delivery,
    EmailAttempt,
    EmailKind,
    EmailNotice,
    EmailState,
    Publication,
    PublicationChannel,
    PublicationState,
    PublishedObject,
)
from sharing.services.pipeline import still_entitled
from sharing.services.subscriptions import unsubscribe_token
from sharing.stix import Tlp
from sharing.transports.base import TransportError
from sharing.transports.email import EmailTransport

logger = logging.getLogger(__name__)

# The most sensitive TLP whose content an email may carry.
SUMMARY_TLP_LIMIT = Tlp.GREEN
TEMPLATES = "sharing/email"


@dataclass(frozen=True)
class Item:
    """What an email says about one publication. `summary` is False above TLP:GREEN: then only
    publisher, TLP and link are shown, never title or contents."""

    publisher: str
    tlp: str
    tlp_label: str
    url: str
    summary: bool
    trust_groups: list[str]
    title: str = ""
    object_count: int = 0
    types: list[tuple[str, int]] | None = None


def may_summarise(tlp: str) -> bool:
    return Tlp.rank(tlp) <= Tlp.rank(SUMMARY_TLP_LIMIT)


@dataclass(frozen=True)
class Facts:
    """What rendering needs beyond the publications: each organisation's inbox entry of each
    publication, and the object types of those at TLP:GREEN or below. Read once per batch of
    notices (two queries), not once per notice."""

    deliveries: dict[tuple[int, int], int]
    types: dict[int, Counter]


def facts_of(*, organisation_ids: set[int], publications: list[Publication]) -> Facts:
    deliveries = {
        (organisation_id, publication_id): delivery_id
        for organisation_id, publication_id, delivery_id in Delivery.objects.filter(
            organisation_id__in=organisation_ids, publication__in=publications
        ).values_list("organisation_id", "publication_id", "id")
    }
    summarised = {p.id for p in publications if may_summarise(p.tlp)}
    types: dict[int, Counter] = defaultdict(Counter)
    for publication_id, stix_type in PublishedObject.objects.filter(
        publication_id__in=summarised
    ).values_list("publication_id", "stix_type"):
        types[publication_id][stix_type] += 1
    return Facts(deliveries=deliveries, types=types)


def items_for(
    user: User, publications: list[Publication], *, facts: Facts | None = None
) -> list[Item]:
    """The email view of each publication for `user`, linking to their organisation's inbox
    entry. Contents are read only for publications at TLP:GREEN or below. `facts` as read for
    a whole batch (facts_of), or read here for this user alone."""
    site = settings.SITE_URL.rstrip("/")
    if facts is None:
        facts = facts_of(organisation_ids={user.organisation_id}, publications=publications)
    items = []
    for publication in publications:
        delivery_id = facts.deliveries.get((user.organisation_id, publication.id))
        path = reverse("delivery-detail", args=[delivery_id]) if delivery_id else reverse("inbox")
        item = Item(
            publisher=publication.organisation.name,
            tlp=publication.tlp,
            tlp_label=Tlp.LABELS[publication.tlp],
            url=site + path,
            summary=may_summarise(publication.tlp),
            trust_groups=[group.name for group in publication.trust_groups.all()],
        )
        if item.summary:
            counted = facts.types[publication.id]
            item = Item(
                **{
                    **item.__dict__,
                    "title": publication.title,
                    "object_count": sum(counted.values()),
                    "types": sorted(counted.items()),
                }
            )
        items.append(item)
    return items


def render(
    notice: EmailNotice, publications: list[Publication], *, facts: Facts | None = None
) -> EmailMultiAlternatives:
    """The email of a notice: subject, text and HTML parts from templates/sharing/email/
    (subject and text are plain text, not HTML-escaped; the HTML part is escaped), with the
    RFC 8058 one-click unsubscribe headers."""
    user = notice.user
    site = settings.SITE_URL.rstrip("/")
    unsubscribe_url = site + reverse("unsubscribe", args=[unsubscribe_token(user)])
    context: dict[str, Any] = {
        "user": user,
        "items": items_for(user, publications, facts=facts),
        "site_url": site,
        "settings_url": site + reverse("notifications"),
        "unsubscribe_url": unsubscribe_url,
        "subject_prefix": settings.ACCOUNT_EMAIL_SUBJECT_PREFIX,
    }
    return emails.compose(
        to=[user.email],
        template=f"{TEMPLATES}/{notice.kind}",
        context=context,
        headers={
            # RFC 8058 section 3.1: the URI must be https in production; the POST body is
            # "List-Unsubscribe=One-Click".
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",  # RFC 3834: no auto-replies, please
        },
    )


@dataclass(frozen=True)
class SendOutcome:
    """A notice's state after an attempt, and in how many seconds to try again (if at all)."""

    state: str
    retry_in: int | None


def send_due(
    *,
    limit: int = 100,
    now: datetime | None = None,
    on_claimed: Callable[[int], None] | None = None,
) -> dict[int, SendOutcome]:
    """Send up to `limit` due notices (pending, `next_attempt_at` passed) over one mail server
    connection. Returns each claimed notice's outcome; notices another sender holds are left.

    Claiming moves `next_attempt_at` a lease ahead, so no other sender takes a notice while
    it is being sent, and a crash leaves it due again after the lease. `on_claimed(count)` is
    called once the claim is committed, before anything is sent: the caller can start the
    next batch there, so batches are sent side by side rather than one after another.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.EMAIL_TIMEOUT * 3)
    with transaction.atomic():
        claimed = list(
            EmailNotice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=EmailState.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        EmailNotice.objects.filter(id__in=claimed).update(
            attempts=F("attempts") + 1, next_attempt_at=now + lease
        )
    if on_claimed is not None:
        on_claimed(len(claimed))
    if not claimed:
        return {}
    notices = list(EmailNotice.objects.select_related("user").filter(id__in=claimed))
    publications_of: dict[int, list[Publication]] = defaultdict(list)
    for channel in (
        PublicationChannel.objects.filter(notice_id__in=claimed)
        .select_related("publication__organisation")
        .prefetch_related("publication__trust_groups")
        .order_by("publication__delivered_at", "publication_id")
    ):
        publications_of[channel.notice_id].append(channel.publication)

    facts = facts_of(
        organisation_ids={notice.user.organisation_id for notice in notices},
        publications=list({p.id: p for batch in publications_of.values() for p in batch}.values()),
    )
    transport = EmailTransport()
    attempts = []
    try:
        for notice in notices:
            started = time.monotonic()
            record = EmailAttempt(notice=notice, number=notice.attempts, started_at=now)
            permanent = False
            try:
                if not publications_of[notice.id]:
                    raise TransportError("nothing left to send", permanent=True)
                if not notice.user.is_active:
                    raise TransportError("the member was deactivated", permanent=True)
                transport.send(render(notice, publications_of[notice.id], facts=facts))
                record.succeeded = True
            except TransportError as exc:
                record.error = str(exc)[:2000]
                permanent = exc.permanent
            record.duration_ms = int((time.monotonic() - started) * 1000)
            attempts.append((record, permanent))
    finally:
        transport.close()
    return _record_attempts(notices, attempts, now)


def _record_attempts(
    notices: list[EmailNotice], attempts: list[tuple[EmailAttempt, bool]], now: datetime
) -> dict[int, SendOutcome]:
    outcomes: dict[int, SendOutcome] = {}
    sent, given_up, retry_at = [], [], defaultdict(list)
    for notice, (record, permanent) in zip(notices, attempts, strict=True):
        if record.succeeded:
            sent.append(notice.id)
            outcomes[notice.id] = SendOutcome(EmailState.SENT, None)
        elif permanent or notice.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            given_up.append(notice.id)
            outcomes[notice.id] = SendOutcome(EmailState.FAILED, None)
        else:
            delays = settings.EMAIL_RETRY_DELAYS
            delay = delays[min(notice.attempts, len(delays)) - 1]
            retry_at[delay].append(notice.id)
            outcomes[notice.id] = SendOutcome(EmailState.PENDING, delay)
    with transaction.atomic():
        EmailAttempt.objects.bulk_create([record for record, _ in attempts])
        EmailNotice.objects.filter(id__in=sent).update(state=EmailState.SENT, sent_at=now)
        EmailNotice.objects.filter(id__in=given_up).update(state=EmailState.FAILED)
        for delay, ids in retry_at.items():
            EmailNotice.objects.filter(id__in=ids).update(
                next_attempt_at=now + timedelta(seconds=delay)
            )
    return outcomes


def queue_digests(*, now: datetime | None = None) -> int:
    """Gather every digest channel of a delivered publication not yet in a digest into one
    digest notice per member (still active); returns how many notices were queued.

    The digest holds what was delivered before `now`, so a publication delivered while the
    digest runs goes into the next one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        channels = list(
            PublicationChannel.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                kind=ChannelKind.DIGEST,
                notice__isnull=True,
                user__is_active=True,
                publication__state=PublicationState.DELIVERED,
                publication__delivered_at__lte=now,
            )
            .filter(Exists(still_entitled()))
            .only("id", "user_id")
        )
        by_user: dict[int, list[PublicationChannel]] = defaultdict(list)
        for channel in channels:
            by_user[channel.user_id].append(channel)
        notices = EmailNotice.objects.bulk_create(
            [
                EmailNotice(user_id=user_id, kind=EmailKind.DIGEST, created_at=now)
                for user_id in by_user
            ]
        )
        for notice in notices:
            PublicationChannel.objects.filter(
                id__in=[channel.id for channel in by_user[notice.user_id]]
            ).update(notice=notice)
    return len(notices)


def has_due(*, now: datetime | None = None) -> bool:
    """Whether any notice waits to be sent (the sweeper fires the sender then)."""
    return EmailNotice.objects.filter(
        state=EmailState.PENDING, next_attempt_at__lte=now or timezone.now()
    ).exists()
