"""Tenant-scoped reads. Another organisation's row and a missing row both raise Http404."""

from django.db.models import QuerySet
from django.http import Http404

from portal.models import User
from sharing.models import Delivery, Publication, WebhookEndpoint


def _organisation(user: User):
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    return user.organisation


def publications_of(*, user: User) -> QuerySet[Publication]:
    return Publication.objects.filter(organisation=_organisation(user)).prefetch_related(
        "trust_groups"
    )


def inbox_of(*, user: User) -> QuerySet[Delivery]:
    return Delivery.objects.filter(organisation=_organisation(user)).select_related(
        "publication", "publication__organisation"
    )


def webhooks_of(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organisation=_organisation(user))


def access_publication(*, user: User, publication_id: int) -> Publication:
    publication = publications_of(user=user).filter(pk=publication_id).first()
    if publication is None:
        raise Http404
    return publication


def access_delivery(*, user: User, delivery_id: int) -> Delivery:
    delivery = inbox_of(user=user).filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404
    return delivery


def access_webhook(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhooks_of(user=user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404
    return endpoint
