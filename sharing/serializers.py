"""REST representations. Input serializers only parse; services decide."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sharing.models import (
    Delivery,
    Distribution,
    Publication,
    PublishedObject,
    TlpLevel,
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


class PublicationSerializer(serializers.ModelSerializer):
    publisher = serializers.CharField(source="organisation.name")
    trust_groups = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    object_count = serializers.IntegerField(source="items.count")

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


class ItemSerializer(serializers.ModelSerializer):
    object = serializers.JSONField(source="body")

    class Meta:
        model = PublishedObject
        fields = ["stix_id", "stix_type", "version", "object", "receipt"]


class DeliverySerializer(serializers.ModelSerializer):
    publication = PublicationSerializer()

    class Meta:
        model = Delivery
        fields = ["id", "publication", "created_at", "verification", "verified_at"]


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
            "publisher_ids",
            "trust_group_ids",
            "stix_types",
            "min_tlp",
            "labels",
        ]
        read_only_fields = ["id", "is_active", "created_at"]


class WebhookFiltersSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        read_only_fields = ["id", "url", "description", "is_active", "created_at"]
