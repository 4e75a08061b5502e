"""The base of every REST view: tenant scoping that cannot be forgotten, and one error shape."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledger.models import SigningKey
from portal.models import Organisation


class OrganisationScopedMixin:
    """Views whose rows belong to an organisation.

    Subclasses implement `scoped_queryset(organisation)`; `get_queryset` always passes the
    requesting user's organisation, so another organisation's row is simply not found (404).
    """

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Model]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Model]:
        organisation = getattr(self.request.user, "organisation", None)
        if organisation is None:
            raise exceptions.NotFound()
        return self.scoped_queryset(organisation)


class ScopedListView(OrganisationScopedMixin, generics.ListAPIView):
    pass


class ScopedRetrieveView(OrganisationScopedMixin, generics.RetrieveAPIView):
    pass


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus Django's PermissionDenied/ValidationError/Http404, every error in
    one shape (portal.schema.ErrorSerializer): `{"errors": [sentences], "detail": "..."}`."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError({"errors": exc.messages})
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None:
        errors = error_sentences(response.data)
        response.data = {"errors": errors, "detail": " ".join(errors)}
    return response


def error_sentences(data, field: str = "") -> list[str]:
    """DRF's error data (a string, a list, or errors per field, nested) as flat sentences."""
    if isinstance(data, dict):
        if set(data) <= {"detail", "errors"} and "errors" in data:
            return error_sentences(data["errors"], field)
        if set(data) == {"detail"}:
            return error_sentences(data["detail"], field)
        sentences = []
        for name, value in data.items():
            name = "" if name == "non_field_errors" else name
            sentences += error_sentences(value, f"{field}.{name}" if field and name else name)
        return sentences
    if isinstance(data, list):
        return [sentence for item in data for sentence in error_sentences(item, field)]
    return [f"{field}: {data}" if field else str(data)]


# --- The directory: what consumers pin to verify receipts without trusting the portal ----


class SigningKeySerializer(serializers.Serializer):
    key_id = serializers.CharField()
    public_key = serializers.SerializerMethodField()
    custody = serializers.CharField()
    created_at = serializers.DateTimeField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    retired_at = serializers.DateTimeField(allow_null=True)

    def get_public_key(self, key) -> str:
        return bytes(key.public_key).hex()


class OrganisationSerializer(serializers.ModelSerializer):
    identity = serializers.CharField(source="stix_identity_id")
    signing_keys = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = ["name", "sector", "country", "identity", "signing_keys"]

    @extend_schema_field(SigningKeySerializer(many=True))
    def get_signing_keys(self, organisation: Organisation) -> list[dict]:
        keys = self.context["keys"].get(organisation.stix_identity_id, [])
        return SigningKeySerializer(keys, many=True).data


class OrganisationDirectoryView(generics.ListAPIView):
    """Every member organisation with its STIX identity and signing keys (current and retired),
    so a consumer can pin the key that must have signed a receipt (`ledger.verify --key-id`)."""

    serializer_class = OrganisationSerializer

    def get_queryset(self) -> QuerySet[Organisation]:
        return Organisation.objects.order_by("name")

    def get_serializer_context(self) -> dict:
        keys: dict[str, list] = {}
        for key in SigningKey.objects.order_by("created_at"):
            keys.setdefault(key.owner, []).append(key)
        return {**super().get_serializer_context(), "keys": keys}
