"""REST API of the sharing side: publish, read publications and the inbox, manage webhooks."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import OrganisationScopedMixin, ScopedListView, ScopedRetrieveView
from portal.models import Organisation, TokenScope
from sharing import selectors
from sharing.models import Delivery, Publication, PublishedObject, WebhookAttempt, WebhookEndpoint
from sharing.serializers import (
    AcknowledgeInputSerializer,
    DeliveryDetailSerializer,
    DeliverySerializer,
    PublicationSerializer,
    PublishInputSerializer,
    RecipientStatusSerializer,
    WebhookAttemptSerializer,
    WebhookEndpointSerializer,
    WebhookFiltersSerializer,
)
from sharing.services import inbox, publishing, subscriptions, webhook_operations, webhooks
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
        # Counted in the page's query, not once per row (a grouped query ignores Meta.ordering).
        return (
            selectors.publications_for(organisation)
            .annotate(item_count=Count("items"))
            .order_by("-created_at", "-id")
        )

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
                signatures=data.validated_data.get("signatures"),
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


class PublicationRecipientsView(APIView):
    """Each recipient organisation of your publication: inbox delivery, webhook messages, the
    portal's verification of its copy and its own acknowledgement. 404 for another
    organisation's publication."""

    @extend_schema(responses=RecipientStatusSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        publication = selectors.access_publication(user=request.user, publication_id=pk)
        rows = selectors.recipient_statuses(publication=publication)
        return Response(RecipientStatusSerializer(rows, many=True).data)


UNREAD_VALUES = ("0", "1", "true", "false")


class InboxListView(ScopedListView):
    """What was delivered to your organisation, newest first, with its verification state,
    your organisation's acknowledgement and whether you have opened it (`?unread=1`: only
    the deliveries you have not opened)."""

    serializer_class = DeliverySerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Delivery]:
        unread_only = self.request.query_params.get("unread") in ("1", "true")

        inbox = selectors.inbox_with_unread(user=self.request.user, unread_only=unread_only)
        # The publication's trust groups and object count: two queries per page, not per row.
        return inbox.prefetch_related(
            "publication__trust_groups",
            Prefetch("publication__items", queryset=PublishedObject.objects.only("publication_id")),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "unread",
                bool,
                description="1: only the deliveries the requesting user has not opened.",
            )
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        values = request.query_params.getlist("unread")
        if any(value not in UNREAD_VALUES for value in values) or len(values) > 1:
            raise exceptions.ValidationError(
                {"unread": "Use unread=1 (only what you have not opened) or unread=0."}
            )
        return super().get(request, *args, **kwargs)


class InboxDetailView(ScopedRetrieveView):
    """One delivery with every STIX object and its receipt; opening it marks it read for
    you."""

    serializer_class = DeliveryDetailSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Delivery]:
        return selectors.inbox_for(organisation)

    def get_object(self) -> Delivery:
        delivery = super().get_object()
        inbox.mark_read(user=self.request.user, delivery=delivery)
        return delivery


class AcknowledgeView(APIView):
    """POST your organisation's verdict on a delivery: `{"outcome": "verified" | "failed",
    "comment": "..."}`. A later acknowledgement replaces the earlier one. Publishers and
    organisation admins of the recipient only (a publish token); 404 for another
    organisation's delivery; 400, writing nothing, for bad input."""

    @extend_schema(request=AcknowledgeInputSerializer, responses={200: DeliverySerializer})
    def post(self, request: Request, pk: int) -> Response:
        delivery = selectors.access_delivery(user=request.user, delivery_id=pk)
        require_write_scope(request)
        data = AcknowledgeInputSerializer(data=request.data)
        if not data.is_valid():
            return Response({"errors": _flatten(data.errors)}, status=status.HTTP_400_BAD_REQUEST)
        inbox.acknowledge_delivery(
            acting_user=request.user,
            delivery=delivery,
            outcome=data.validated_data["outcome"],
            comment=data.validated_data["comment"],
        )
        return Response(DeliverySerializer(selectors.inbox_of(user=request.user).get(pk=pk)).data)


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


class _WebhookOperation(OrganisationScopedMixin, generics.GenericAPIView):
    """An operator action on one of your organisation's endpoints (org admins, write scope);
    another organisation's endpoint is not found (404)."""

    serializer_class = WebhookEndpointSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
        return selectors.webhooks_for(organisation)

    def endpoint(self) -> WebhookEndpoint:
        endpoint = self.get_object()
        require_write_scope(self.request)
        return endpoint


MessageQueued = inline_serializer(
    "WebhookMessageQueued",
    {"message": serializers.IntegerField(), "webhook_id": serializers.CharField()},
)


class WebhookAttemptListView(OrganisationScopedMixin, generics.ListAPIView):
    """GET: the endpoint's delivery log, newest attempt first (org admins)."""

    serializer_class = WebhookAttemptSerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[WebhookAttempt]:
        endpoint = generics.get_object_or_404(
            selectors.webhooks_for(organisation), pk=self.kwargs["pk"]
        )
        webhooks.require_webhook_admin(self.request.user, endpoint)
        return selectors.webhook_attempts(endpoint)


class WebhookTestView(_WebhookOperation):
    @extend_schema(request=None, responses={202: MessageQueued})
    def post(self, request: Request, pk: int) -> Response:
        """Queue a `webhook.test` event to the endpoint."""
        message = webhook_operations.send_test_event(
            acting_user=request.user, endpoint=self.endpoint()
        )
        return Response(
            {"message": message.id, "webhook_id": message.message_id},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookEnableView(_WebhookOperation):
    @extend_schema(request=None, responses={200: WebhookEndpointSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Re-enable a disabled endpoint."""
        endpoint = self.endpoint()
        webhook_operations.enable_endpoint(acting_user=request.user, endpoint=endpoint)
        return Response(WebhookEndpointSerializer(endpoint).data)


class WebhookRotateSecretView(_WebhookOperation):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "WebhookSecretRotated",
                {
                    "secret": serializers.CharField(),
                    "previous_secret_expires_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Rotate the signing secret; the new one is in the response, shown this once."""
        endpoint = self.endpoint()
        secret = webhook_operations.rotate_secret(acting_user=request.user, endpoint=endpoint)
        return Response(
            {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}
        )


class WebhookRedeliverView(_WebhookOperation):
    @extend_schema(request=None, responses={202: MessageQueued})
    def post(self, request: Request, pk: int, message_id: int) -> Response:
        """Send one message of the endpoint again, now, with the same webhook-id."""
        endpoint = self.endpoint()
        message = selectors.access_webhook_message(endpoint=endpoint, message_id=message_id)
        message = webhook_operations.redeliver(acting_user=request.user, message=message)
        return Response(
            {"message": message.id, "webhook_id": message.message_id},
            status=status.HTTP_202_ACCEPTED,
        )


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
