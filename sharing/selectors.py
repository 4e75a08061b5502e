"""Tenant-scoped reads. Another organisation's row and a missing row both raise Http404.

The `*_for(organisation)` querysets are the one definition of "this organisation's rows",
used by the web pages (through the `*_of(user)` wrappers) and by the REST API.
"""

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from portal.models import Organisation, User
from sharing.models import (
    Delivery,
    Draft,
    DraftObject,
    Publication,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)


def publications_for(organisation: Organisation) -> QuerySet[Publication]:
    return (
        Publication.objects.filter(organisation=organisation)
        .select_related("organisation")
        .prefetch_related("trust_groups")
    )


def inbox_for(organisation: Organisation) -> QuerySet[Delivery]:
    return Delivery.objects.filter(organisation=organisation).select_related(
        "publication", "publication__organisation"
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
