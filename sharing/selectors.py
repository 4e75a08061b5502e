"""Tenant-scoped reads. Another organisation's row and a missing row both raise Http404.

The `*_for(organisation)` querysets are the one definition of "this organisation's rows",
used by the web pages (through the `*_of(user)` wrappers) and by the REST API.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.models import Organisation, User
from sharing.models import (
    ChannelKind,
    Delivery,
    DeliveryRead,
    Draft,
    DraftObject,
    EmailState,
    InboxReadMark,
    Publication,
    PublicationChannel,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageState,
)


def publications_for(organisation: Organisation) -> QuerySet[Publication]:
    return (
        Publication.objects.filter(organisation=organisation)
        .select_related("organisation")
        .prefetch_related("trust_groups")
    )


def inbox_for(organisation: Organisation) -> QuerySet[Delivery]:
    return Delivery.objects.filter(organisation=organisation).select_related(
        "publication", "publication__organisation", "acknowledged_by"
    )


def webhooks_for(organisation: Organisation) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organisation=organisation)


def _organisation(user: User) -> Organisation:
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    return user.organisation


def publications_of(*, user: User) -> QuerySet[Publication]:
    return publications_for(_organisation(user))


def inbox_of(*, user: User) -> QuerySet[Delivery]:
    return inbox_for(_organisation(user))


def webhooks_of(*, user: User) -> QuerySet[WebhookEndpoint]:
    return webhooks_for(_organisation(user))


def access_publication(*, user: User, publication_id: int) -> Publication:
    return get_object_or_404(publications_of(user=user), pk=publication_id)


def access_delivery(*, user: User, delivery_id: int) -> Delivery:
    return get_object_or_404(inbox_of(user=user), pk=delivery_id)


def access_webhook(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(webhooks_of(user=user), pk=endpoint_id)


# --- Unread markers (sharing.services.inbox) ----------------------------------------------


def _unread(user: User) -> Q:
    """Deliveries newer than the user's high-water mark (else the moment they joined) that
    they have not opened: one condition, evaluated in the same query as the inbox."""
    since = Coalesce(
        Subquery(InboxReadMark.objects.filter(user=user.pk).values("read_before")[:1]),
        Value(user.date_joined),
    )
    opened = DeliveryRead.objects.filter(user=user.pk, delivery=OuterRef("pk"))
    return Q(created_at__gt=since) & ~Exists(opened)


def inbox_with_unread(*, user: User, unread_only: bool = False) -> QuerySet[Delivery]:
    """The user's inbox, each delivery annotated with `unread` (for this user); only the unread
    ones when `unread_only`."""
    inbox = inbox_of(user=user).annotate(
        unread=Case(When(_unread(user), then=Value(True)), default=Value(False))
    )
    return inbox.filter(unread=True) if unread_only else inbox


def unread_count(*, user: User) -> int:
    """How many deliveries of the user's inbox they have not opened; one query, 0 without an
    organisation."""
    if not user.is_authenticated or user.organisation_id is None:
        return 0
    return (
        Delivery.objects.filter(organisation_id=user.organisation_id).filter(_unread(user)).count()
    )


# --- What the publisher sees of each recipient ---------------------------------------------


@dataclass
class WebhookStatus:
    """One webhook message to one of the recipient's endpoints (the URL is the recipient's
    own configuration and is not shown to the publisher)."""

    endpoint_id: int
    state: str
    attempts: int
    succeeded_at: datetime | None


@dataclass
class RecipientStatus:
    """Everything the publisher sees of one recipient organisation's copy. A new channel
    is one more field here and one more query in `recipient_statuses`."""

    delivery: Delivery
    organisation: Organisation
    delivered_at: datetime
    verification: str
    verified_at: datetime | None
    webhooks: list[WebhookStatus] = field(default_factory=list)
    # Emails (notices and digests) carrying this publication that the mail server accepted,
    # counted per recipient organisation; who received them is not shown.
    emails_sent: int = 0
    acknowledgement: str = ""
    acknowledgement_comment: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""

    @property
    def webhook_summary(self) -> str:
        """ "none", or the least advanced state of its messages: pending, failed, succeeded."""
        states = {w.state for w in self.webhooks}
        if not states:
            return "none"
        for state in (WebhookMessageState.PENDING, WebhookMessageState.FAILED):
            if state in states:
                return state
        return WebhookMessageState.SUCCEEDED


def recipient_statuses(*, publication: Publication) -> list[RecipientStatus]:
    """A row per recipient organisation of `publication` (load it through `access_publication`:
    only its publisher may see this): inbox delivery, webhook messages, the portal-side
    verification, emails sent and the recipient's acknowledgement. The publisher's own copy
    comes first. Three queries however many recipients."""
    deliveries = list(
        Delivery.objects.filter(publication=publication).select_related(
            "organisation", "acknowledged_by"
        )
    )
    webhooks_of: dict[int, list[WebhookStatus]] = defaultdict(list)
    for message in (
        WebhookMessage.objects.filter(publication=publication)
        .select_related("endpoint")
        .only("endpoint__organisation_id", "endpoint_id", "state", "attempts", "succeeded_at")
        .order_by("endpoint_id")
    ):
        webhooks_of[message.endpoint.organisation_id].append(
            WebhookStatus(
                endpoint_id=message.endpoint_id,
                state=message.state,
                attempts=message.attempts,
                succeeded_at=message.succeeded_at,
            )
        )
    emails_sent = dict(
        PublicationChannel.objects.filter(
            publication=publication,
            kind__in=[ChannelKind.EMAIL, ChannelKind.DIGEST],
            notice__state=EmailState.SENT,
        )
        .values("user__organisation_id")
        .annotate(sent=Count("id"))
        .values_list("user__organisation_id", "sent")
    )
    deliveries.sort(key=lambda d: (d.organisation_id != publication.organisation_id, d.id))
    return [
        RecipientStatus(
            delivery=delivery,
            organisation=delivery.organisation,
            delivered_at=delivery.created_at,
            verification=delivery.verification,
            verified_at=delivery.verified_at,
            webhooks=webhooks_of[delivery.organisation_id],
            emails_sent=emails_sent.get(delivery.organisation_id, 0),
            acknowledgement=delivery.acknowledgement,
            acknowledgement_comment=delivery.acknowledgement_comment,
            acknowledged_at=delivery.acknowledged_at,
            acknowledged_by=delivery.acknowledged_by.email if delivery.acknowledged_by else "",
        )
        for delivery in deliveries
    ]


def webhook_attempts(endpoint: WebhookEndpoint) -> QuerySet[WebhookAttempt]:
    """The endpoint's delivery log: every attempt, newest first, with its message."""
    return (
        WebhookAttempt.objects.filter(message__endpoint=endpoint)
        .select_related("message")
        .order_by("-started_at", "-id")
    )


def access_webhook_message(*, endpoint: WebhookEndpoint, message_id: int) -> WebhookMessage:
    """A message of an endpoint already loaded through access_webhook (or the API's scope)."""
    return get_object_or_404(endpoint.messages.select_related("endpoint"), pk=message_id)


# --- Drafts --------------------------------------------------------------------------------


def drafts_for(organisation: Organisation) -> QuerySet[Draft]:
    return Draft.objects.filter(organisation=organisation).select_related("author")


def drafts_of(*, user: User) -> QuerySet[Draft]:
    return drafts_for(_organisation(user))


def access_draft(*, user: User, draft_id: int) -> Draft:
    return get_object_or_404(drafts_of(user=user), pk=draft_id)


def access_draft_object(*, draft: Draft, object_id: int) -> DraftObject:
    return get_object_or_404(draft.items.all(), pk=object_id)
