"""REST API of an organisation's signing keys: list them and what was signed under them;
register, rotate and revoke (organisation admins, with a session that passed a second factor).

API tokens may read but never change keys: a stolen token must not be able to install a key
that signs in the organisation's name. Nothing here trusts a key id from the client without
loading it through the organisation's scope (404 for another organisation's key).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import signing
from ledger.models import Entry, SigningKey
from portal import permissions, selectors
from portal.api import OrganisationScopedMixin, ScopedListView
from portal.models import Organisation
from portal.services import organisation_keys

TOKEN_REFUSAL = (
    "Signing keys cannot be registered, rotated or revoked with an API token: use a session "
    "that passed a second factor."
)


class OrganisationKeySerializer(serializers.ModelSerializer):
    public_key = serializers.SerializerMethodField()
    fingerprint = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = SigningKey
        fields = [
            "key_id",
            "public_key",
            "fingerprint",
            "custody",
            "valid_from",
            "valid_until",
            "revoked_at",
            "revocation_reason",
            "registered_by",
            "status",
        ]

    def get_public_key(self, key: SigningKey) -> str:
        return bytes(key.public_key).hex()

    def get_fingerprint(self, key: SigningKey) -> str:
        return signing.fingerprint(bytes(key.public_key))

    def get_status(self, key: SigningKey) -> str:
        return key.status_at(self.context["now"])


class RegisterKeyInputSerializer(serializers.Serializer):
    public_key = serializers.CharField(
        max_length=2000, help_text="Ed25519 public key: 64 hex digits or a PEM block"
    )


class RotateKeyInputSerializer(RegisterKeyInputSerializer):
    at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="end of the old key's window; default now"
    )


class RevokeKeyInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="revoked from; default now"
    )


def _require_session_with_second_factor(request: Request) -> bool:
    if request.auth is not None:
        raise PermissionDenied(TOKEN_REFUSAL)
    return permissions.session_passed_second_factor(request)


def _invalid(data: serializers.Serializer) -> Response:
    errors = [f"{name}: {msg}" for name, messages in data.errors.items() for msg in messages]
    return Response({"errors": errors, "detail": " ".join(errors)}, status=400)


class OrganisationKeyListView(ScopedListView):
    """GET: your organisation's signing keys. POST: register a key of your own (org admins,
    session with a second factor; never an API token)."""

    serializer_class = OrganisationKeySerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[SigningKey]:
        return selectors.organisation_keys(organisation=organisation)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(request=RegisterKeyInputSerializer, responses={201: OrganisationKeySerializer})
    def post(self, request: Request) -> Response:
        second_factor = _require_session_with_second_factor(request)
        data = RegisterKeyInputSerializer(data=request.data)
        if not data.is_valid():
            return _invalid(data)
        key = organisation_keys.register_organisation_key(
            acting_user=request.user,
            public_key=data.validated_data["public_key"],
            second_factor=second_factor,
        )
        body = OrganisationKeySerializer(key, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class _KeyActionView(APIView):
    def context(self) -> dict:
        return {"now": timezone.now()}


class OrganisationKeyRotateView(_KeyActionView):
    """POST: register a new key and end this key's window (org admins, second factor)."""

    @extend_schema(request=RotateKeyInputSerializer, responses={201: OrganisationKeySerializer})
    def post(self, request: Request, key_id: str) -> Response:
        key = selectors.access_signing_key(user=request.user, key_id=key_id)
        second_factor = _require_session_with_second_factor(request)
        data = RotateKeyInputSerializer(data=request.data)
        if not data.is_valid():
            return _invalid(data)
        new = organisation_keys.rotate_organisation_key(
            acting_user=request.user,
            key=key,
            new_public_key=data.validated_data["public_key"],
            at=data.validated_data.get("at"),
            second_factor=second_factor,
        )
        return Response(
            OrganisationKeySerializer(new, context=self.context()).data,
            status=status.HTTP_201_CREATED,
        )


class OrganisationKeyRevokeView(_KeyActionView):
    """POST: revoke this key, with a reason (org admins, second factor)."""

    @extend_schema(request=RevokeKeyInputSerializer, responses={200: OrganisationKeySerializer})
    def post(self, request: Request, key_id: str) -> Response:
        key = selectors.access_signing_key(user=request.user, key_id=key_id)
        second_factor = _require_session_with_second_factor(request)
        data = RevokeKeyInputSerializer(data=request.data)
        if not data.is_valid():
            return _invalid(data)
        revoked = organisation_keys.revoke_organisation_key(
            acting_user=request.user,
            key=key,
            reason=data.validated_data["reason"],
            at=data.validated_data.get("at"),
            second_factor=second_factor,
        )
        return Response(OrganisationKeySerializer(revoked, context=self.context()).data)


class SignedEntrySerializer(serializers.ModelSerializer):
    key_id = serializers.CharField(source="signing_key.key_id")
    custody = serializers.CharField(source="signing_key.custody")
    tree_size = serializers.SerializerMethodField()

    class Meta:
        model = Entry
        fields = ["subject", "key_id", "custody", "leaf_index", "state", "tree_size", "created_at"]

    def get_tree_size(self, entry: Entry) -> int | None:
        return entry.checkpoint.tree_size if entry.checkpoint_id else None


class OrganisationKeyEntriesView(OrganisationScopedMixin, generics.ListAPIView):
    """Every log entry signed under your organisation's keys, newest first, paginated."""

    serializer_class = SignedEntrySerializer

    def scoped_queryset(self, organisation: Organisation) -> QuerySet[Entry]:
        return selectors.entries_signed_for(organisation=organisation)
