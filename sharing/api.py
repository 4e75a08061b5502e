"""REST API of the sharing side: publish, read publications and the inbox, manage webhooks."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import OrganisationScopedMixin, ScopedListView, ScopedRetrieveView
from portal.models import Organisation, TokenScope
from sharing import selectors
from sharing.models import Delivery, Publication, WebhookEndpoint
from sharing.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    PublicationSerializer,
    PublishInputSerializer,
    WebhookEndpointSerializer,
    WebhookFiltersSerializer,
)
from sharing.services import publishing, subscriptions, webhooks
from sharing.stix import BundleError


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


class LimitedJSONParser(parsers.JSONParser):
    """JSON, refused before reading when larger than PUBLISH_MAX_BYTES."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.PUBLISH_MAX_BYTES:
            raise PayloadTooLarge(
                f"The request body is {length} bytes; the limit is {settings.PUBLISH_MAX_BYTES}."
            )
        return super().parse(stream, media_type, parser_context)


def require_write_scope(request: Request) -> None:
    """A read-only token may read; anything that writes needs a publish-scoped token."""
    token = request.auth
    if token is not None and getattr(token, "scope", TokenScope.PUBLISH) != TokenScope.PUBLISH:
        raise exceptions.PermissionDenied("This token is read-only; this needs a publish token.")


class PublicationListView(OrganisationScopedMixin, generics.ListAPIView):
    """GET: your organisation's publications. POST: publish a STIX 2.1 bundle."""

    serializer_class = PublicationSerializer
    parser_classes = [LimitedJSONParser]

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Publication]:
        return selectors.publications_for(organisation)

    @extend_schema(
        request=PublishInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Repeating a key returns the original publication (202) instead of "
                "creating another; reusing it for a different request answers 422.",
            )
        ],
        responses={202: PublicationSerializer},
    )
    def post(self, request: Request) -> Response:
        require_write_scope(request)
        data = PublishInputSerializer(data=request.data)
        if not data.is_valid():
            return Response({"errors": _flatten(data.errors)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            published = publishing.publish(
                acting_user=request.user,
                bundle=data.validated_data["bundle"],
                distribution=data.validated_data["distribution"],
                tlp=data.validated_data["tlp"],
                trust_group_ids=data.validated_data["trust_groups"],
                idempotency_key=request.headers.get("Idempotency-Key", ""),
            )
        except publishing.IdempotencyKeyReused as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        except BundleError as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        headers = {} if published.created else {"Idempotent-Replayed": "true"}
        return Response(
            PublicationSerializer(published.publication).data,
            status=status.HTTP_202_ACCEPTED,
            headers=headers,
        )


class PublicationDetailView(ScopedRetrieveView):
    serializer_class = PublicationSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Publication]:
        return selectors.publications_for(organisation)


class InboxListView(ScopedListView):
    """What was delivered to your organisation, newest first, with its verification state."""

    serializer_class = DeliverySerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Delivery]:
        return selectors.inbox_for(organisation)


class InboxDetailView(ScopedRetrieveView):
    """One delivery with every STIX object and its receipt."""

    serializer_class = DeliveryDetailSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Delivery]:
        return selectors.inbox_for(organisation)


class WebhookListView(OrganisationScopedMixin, generics.ListAPIView):
    """GET: your organisation's endpoints. POST: register one (org admins); the response
    carries the signing secret, shown this once."""

    serializer_class = WebhookEndpointSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
        return selectors.webhooks_for(organisation)

    @extend_schema(request=WebhookEndpointSerializer, responses={201: WebhookEndpointSerializer})
    def post(self, request: Request) -> Response:
        require_write_scope(request)
        data = WebhookEndpointSerializer(data=request.data)
        if not data.is_valid():
            return Response({"errors": _flatten(data.errors)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            endpoint, secret = subscriptions.register_endpoint(
                acting_user=request.user,
                url=data.validated_data["url"],
                description=data.validated_data.get("description", ""),
                filters=_filters(data.validated_data),
            )
        except ValidationError as exc:
            return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        body = {**WebhookEndpointSerializer(endpoint).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(OrganisationScopedMixin, generics.RetrieveDestroyAPIView):
    """GET: one endpoint. PATCH: replace its filters (org admins). DELETE: remove it."""

    serializer_class = WebhookEndpointSerializer

    @extend_schema(request=WebhookFiltersSerializer, responses={200: WebhookEndpointSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        require_write_scope(request)
        endpoint = self.get_object()
        data = WebhookFiltersSerializer(data=request.data, partial=True)
        if not data.is_valid():
            return Response({"errors": _flatten(data.errors)}, status=status.HTTP_400_BAD_REQUEST)
        filters = {**_filters_of(endpoint), **_filters(data.validated_data)}
        try:
            subscriptions.set_endpoint_filters(
                acting_user=request.user, endpoint=endpoint, filters=filters
            )
        except ValidationError as exc:
            return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
        return selectors.webhooks_for(organisation)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        require_write_scope(self.request)
        webhooks.remove_endpoint(acting_user=self.request.user, endpoint=instance)


class HealthView(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    @extend_schema(responses=inline_serializer("Health", {"status": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


def _filters(data: dict) -> dict:
    return {name: data[name] for name in subscriptions.FILTER_FIELDS if name in data}


def _filters_of(endpoint: WebhookEndpoint) -> dict:
    return {name: getattr(endpoint, name) for name in subscriptions.FILTER_FIELDS}


def _flatten(errors: dict) -> list[str]:
    return [f"{field}: {message}" for field, messages in errors.items() for message in messages]
