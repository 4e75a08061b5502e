"""REST representations. Input serializers only parse; services decide."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sharing.models import (
    AcknowledgementOutcome,
    Delivery,
    Distribution,
    Publication,
    PublishedObject,
    TlpLevel,
    WebhookAttempt,
    WebhookEndpoint,
)
from sharing.services.subscriptions import FILTERABLE_TYPES, MAX_LABEL_LENGTH, MAX_LABELS
from sharing.stix import Tlp

# Ids are PostgreSQL bigints: anything larger is refused as input, not left to the database.
MAX_ID = 2**63 - 1


@extend_schema_field(
    {
        "type": "object",
        "description": "A STIX 2.1 bundle. Its objects must also pass the OASIS stix2-validator "
        "(STIX 2.1 section 8): a 400 lists what does not.",
        "required": ["type", "id", "objects"],
        "properties": {
            "type": {"type": "string", "enum": ["bundle"]},
            "id": {"type": "string", "pattern": "^bundle--[0-9a-f-]{36}$"},
            "objects": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["type", "id", "spec_version"]},
            },
        },
    }
)
class BundleField(serializers.DictField):
    """A JSON object (not null, a list or a number: those get a 400 with a message)."""


class PublishInputSerializer(serializers.Serializer):
    bundle = BundleField()
    distribution = serializers.ChoiceField(choices=Distribution.choices)
    tlp = serializers.ChoiceField(choices=TlpLevel.choices)
    trust_groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        help_text="Ids of your organisation's trust groups; only with distribution trust_groups.",
    )
    signatures = serializers.JSONField(
        required=False,
        help_text="A client-signed submission: the output of `python -m ledger.sign` "
        "(docs/api.md). Every object must be signed by a registered, valid organisation-held key "
        "of your organisation; the objects are then stored verbatim.",
    )


class PublicationSerializer(serializers.ModelSerializer):
    publisher = serializers.CharField(source="organisation.name")
    trust_groups = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    object_count = serializers.SerializerMethodField()

    class Meta:
        model = Publication
        fields = [
            "id",
            "title",
            "publisher",
            "bundle_id",
            "distribution",
            "trust_groups",
            "tlp",
            "state",
            "object_count",
            "created_at",
            "delivered_at",
        ]

    def get_object_count(self, publication: Publication) -> int:
        """Annotated by list queries (`item_count`); counted here for a single publication."""
        counted = getattr(publication, "item_count", None)
        return counted if counted is not None else publication.items.count()


class ItemSerializer(serializers.ModelSerializer):
    object = serializers.JSONField(source="body")

    class Meta:
        model = PublishedObject
        fields = ["stix_id", "stix_type", "version", "object", "receipt"]


class AcknowledgementSerializer(serializers.Serializer):
    """The recipient's own verdict on a delivery; the latest one stands."""

    outcome = serializers.ChoiceField(choices=AcknowledgementOutcome.choices)
    comment = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()
    by = serializers.EmailField(allow_blank=True)


def acknowledgement_of(delivery: Delivery) -> dict | None:
    if not delivery.acknowledgement:
        return None
    by = delivery.acknowledged_by
    return {
        "outcome": delivery.acknowledgement,
        "comment": delivery.acknowledgement_comment,
        "at": delivery.acknowledged_at,
        "by": by.email if by is not None else "",
    }


class DeliverySerializer(serializers.ModelSerializer):
    publication = PublicationSerializer()
    unread = serializers.SerializerMethodField(
        help_text="Whether the requesting user has not opened this delivery yet."
    )
    acknowledgement = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "publication",
            "created_at",
            "verification",
            "verified_at",
            "unread",
            "acknowledgement",
        ]

    def get_unread(self, delivery: Delivery) -> bool:
        return bool(getattr(delivery, "unread", False))

    @extend_schema_field(AcknowledgementSerializer(allow_null=True))
    def get_acknowledgement(self, delivery: Delivery) -> dict | None:
        acknowledgement = acknowledgement_of(delivery)
        return AcknowledgementSerializer(acknowledgement).data if acknowledgement else None


class AcknowledgeInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=AcknowledgementOutcome.choices,
        help_text="What your own verification of the delivered copy found.",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, trim_whitespace=True
    )


class WebhookStatusSerializer(serializers.Serializer):
    endpoint_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    attempts = serializers.IntegerField()
    succeeded_at = serializers.DateTimeField(allow_null=True)


class RecipientStatusSerializer(serializers.Serializer):
    """One recipient organisation of a publication, as its publisher sees it."""

    organisation = serializers.CharField(source="organisation.name")
    delivered_at = serializers.DateTimeField()
    webhook_summary = serializers.ChoiceField(
        choices=["none", "pending", "succeeded", "failed"],
        help_text="none, or the least advanced state of the recipient's webhook messages.",
    )
    webhooks = WebhookStatusSerializer(many=True)
    emails_sent = serializers.IntegerField(
        help_text="Emails (notices and digests) carrying the publication that the recipient's "
        "members were sent; a count only."
    )
    verification = serializers.CharField(help_text="The portal's verification of the copy.")
    verified_at = serializers.DateTimeField(allow_null=True)
    acknowledgement = serializers.SerializerMethodField()

    @extend_schema_field(AcknowledgementSerializer(allow_null=True))
    def get_acknowledgement(self, recipient) -> dict | None:
        acknowledgement = acknowledgement_of(recipient.delivery)
        return AcknowledgementSerializer(acknowledgement).data if acknowledgement else None


class DeliveryDetailSerializer(DeliverySerializer):
    items = ItemSerializer(source="publication.items", many=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "verification_report", "items"]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint and its filters (empty: everything the organisation receives). The filter
    values are checked by the service (sharing.services.subscriptions.clean_filters)."""

    publisher_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    trust_group_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    stix_types = serializers.ListField(
        child=serializers.ChoiceField(choices=FILTERABLE_TYPES), required=False
    )
    min_tlp = serializers.ChoiceField(
        choices=["", *Tlp.ORDER], required=False, allow_blank=True, help_text="empty: any TLP"
    )
    labels = serializers.ListField(
        child=serializers.CharField(max_length=MAX_LABEL_LENGTH, allow_blank=True),
        max_length=MAX_LABELS,
        required=False,
        help_text="compared in lower case; blank entries are ignored",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "is_active",
            "created_at",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "previous_secret_expires_at",
            "publisher_ids",
            "trust_group_ids",
            "stix_types",
            "min_tlp",
            "labels",
        ]
        read_only_fields = [
            "id",
            "is_active",
            "created_at",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "previous_secret_expires_at",
        ]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    """One POST of the delivery log."""

    message = serializers.IntegerField(source="message_id", read_only=True)
    webhook_id = serializers.CharField(source="message.message_id", read_only=True)
    event_type = serializers.CharField(source="message.event_type", read_only=True)
    publication = serializers.IntegerField(source="message.publication_id", read_only=True)
    message_state = serializers.CharField(source="message.state", read_only=True)

    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "message",
            "webhook_id",
            "event_type",
            "publication",
            "message_state",
            "number",
            "started_at",
            "duration_ms",
            "status_code",
            "succeeded",
            "error",
        ]
        read_only_fields = fields


class WebhookFiltersSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        read_only_fields = [
            *WebhookEndpointSerializer.Meta.read_only_fields,
            "url",
            "description",
        ]
