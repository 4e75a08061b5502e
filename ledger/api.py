"""Read-only REST views of the log: its checkpoints and the consistency proofs between them.

Checkpoints hold no content (a tree size and a root, both public on-chain), so every member
may read them: a consumer that kept an earlier checkpoint asks for a consistency proof to the
latest one and checks, without trusting the portal, that the log only grew (RFC 9162 2.1.4).
"""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import pinning, selectors, services
from ledger.chain import ChainError
from ledger.models import Checkpoint, CheckpointState, Deployment, EntryState, KeyEvent


@extend_schema_field(OpenApiTypes.STR)
class HexField(serializers.Field):
    def to_representation(self, value: bytes) -> str:
        return bytes(value).hex()


class CheckpointSerializer(serializers.ModelSerializer):
    root = HexField()

    class Meta:
        model = Checkpoint
        fields = [
            "tree_size",
            "root",
            "chain_id",
            "contract",
            "transaction_hash",
            "block_number",
            "block_hash",
            "confirmed_at",
            "finalized_at",
        ]


class LedgerInfoSerializer(serializers.Serializer):
    chain_id = serializers.IntegerField(allow_null=True)
    contract = serializers.CharField()
    deployed_in_block = serializers.IntegerField(allow_null=True)
    log_size = serializers.IntegerField()


# The API's error shape, written out here: the ledger depends on no other app.
CHAIN_UNAVAILABLE = OpenApiResponse(
    response={
        "type": "object",
        "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
        "required": ["errors"],
    },
    description="No anchor contract is deployed, or the chain node cannot be reached.",
)


class LedgerInfoView(APIView):
    """Where receipts are anchored: the chain id and the anchor registry's address, to pin with
    `ledger.verify --contract`; and the log's current size."""

    @extend_schema(responses={200: LedgerInfoSerializer, 503: CHAIN_UNAVAILABLE})
    def get(self, request: Request) -> Response:
        try:
            address = services.contract_address()
        except ChainError as exc:
            return Response({"errors": [str(exc)]}, status=503)
        deployment = Deployment.objects.filter(address=address).first()
        return Response(
            {
                "chain_id": deployment.chain_id if deployment else None,
                "contract": address,
                "deployed_in_block": deployment.block_number if deployment else None,
                "log_size": services.log_head().size,
            }
        )


class TrustRootView(APIView):
    """The trust root to pin for `python -m ledger.verify --trust-root`: the chain id, the anchor
    registry, the accounts that anchor, and every signing key with its organisation, custody
    and validity window. Pin it out of band: compare it with what other members obtained
    (docs/receipts.md, "Pinning the trust root")."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            address = services.contract_address()
        except ChainError as exc:
            return Response({"errors": [str(exc)]}, status=503)
        deployment = Deployment.objects.filter(address=address).first()
        if deployment is None:
            return Response({"errors": ["the anchor contract's chain is not recorded"]}, status=503)
        document = pinning.trust_root_document(contract=address, chain_id=deployment.chain_id)
        response = Response(document)
        if request.query_params.get("download"):
            response["Content-Disposition"] = 'attachment; filename="trust-root.json"'
        return response


class CheckpointListView(generics.ListAPIView):
    """Confirmed checkpoints, largest first."""

    serializer_class = CheckpointSerializer

    def get_queryset(self) -> QuerySet[Checkpoint]:
        return Checkpoint.objects.filter(state=CheckpointState.CONFIRMED).order_by("-tree_size")


class SizeAndRootSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField()
    root = serializers.CharField(help_text="hex")


class ConsistencyProofSerializer(serializers.Serializer):
    first = SizeAndRootSerializer()
    second = SizeAndRootSerializer()
    proof = serializers.ListField(child=serializers.CharField(help_text="hex"))


# Tree sizes are PostgreSQL bigints.
MAX_TREE_SIZE = 2**63 - 1
TREE_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_TREE_SIZE}


class ConsistencyProofView(APIView):
    """GET ?first=M&second=N: the RFC 9162 consistency proof between two confirmed checkpoints."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "first",
                TREE_SIZE,
                required=True,
                description="older tree size: a confirmed checkpoint's, at most `second`",
            ),
            OpenApiParameter(
                "second",
                TREE_SIZE,
                required=True,
                description="newer tree size: a confirmed checkpoint's, at least `first`",
            ),
        ],
        responses=ConsistencyProofSerializer,
    )
    def get(self, request: Request) -> Response:
        sizes = []
        for name in ("first", "second"):
            try:
                sizes.append(int(request.query_params[name]))
            except (KeyError, ValueError):
                raise ValidationError(
                    {"errors": [f"{name}: an integer tree size is required"]}
                ) from None
        first, second = sizes
        if not 0 < first <= second <= MAX_TREE_SIZE:
            raise ValidationError(
                {"errors": [f"first must be positive and at most second (at most {MAX_TREE_SIZE})"]}
            )
        confirmed = dict(
            Checkpoint.objects.filter(
                state=CheckpointState.CONFIRMED, tree_size__in=[first, second]
            ).values_list("tree_size", "root")
        )
        missing = [size for size in (first, second) if size not in confirmed]
        if missing:
            raise ValidationError({"errors": [f"no confirmed checkpoint of size {missing[0]}"]})
        proof = services.consistency_proof(old_size=first, new_size=second)
        return Response(
            {
                "first": {"tree_size": first, "root": bytes(confirmed[first]).hex()},
                "second": {"tree_size": second, "root": bytes(confirmed[second]).hex()},
                "proof": [node.hex() for node in proof],
            }
        )


class KeyEventSerializer(serializers.ModelSerializer):
    """One sealed change of the key directory: the exact payload that was sealed, and its
    receipt once anchored (null before). ``python -m ledger.verify payload.json receipt.json``
    checks it like any item."""

    organisation = serializers.CharField(source="signing_key.owner")
    key_id = serializers.CharField(source="signing_key.key_id")
    custody = serializers.CharField(source="signing_key.custody")
    state = serializers.CharField(source="entry.state")
    receipt = serializers.SerializerMethodField()

    class Meta:
        model = KeyEvent
        fields = ["id", "kind", "organisation", "key_id", "custody", "payload", "state", "receipt"]

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_receipt(self, event: KeyEvent) -> dict | None:
        return self.context["receipts"].get(event.entry_id)


class KeyEventListView(generics.ListAPIView):
    """Every registration, rotation, revocation and creation of a signing key, newest first,
    each with its receipt once anchored (key transparency: docs/receipts.md). Filter with
    ``?organisation=identity--…`` or ``?key_id=ed25519:…``."""

    serializer_class = KeyEventSerializer

    def get_queryset(self) -> QuerySet[KeyEvent]:
        events = KeyEvent.objects.select_related("signing_key", "entry__signing_key").order_by(
            "-id"
        )
        if organisation := self.request.query_params.get("organisation"):
            events = events.filter(signing_key__owner=organisation)
        if key_id := self.request.query_params.get("key_id"):
            events = events.filter(signing_key__key_id=key_id)
        return events

    @extend_schema(
        parameters=[
            OpenApiParameter("organisation", str, description="an organisation's STIX identity"),
            OpenApiParameter("key_id", str, description="one key's id"),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_serializer(self, *args, **kwargs):
        page = args[0] if args else []
        anchored = [
            event.entry
            for event in page
            if event.entry.state == EntryState.ANCHORED and event.entry.checkpoint_id
        ]
        kwargs["context"] = {
            **self.get_serializer_context(),
            "receipts": selectors.receipts_for(anchored) if anchored else {},
        }
        return self.serializer_class(*args, **kwargs)
