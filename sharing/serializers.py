"""REST representations. Input serializers only parse; services decide."""

from rest_framework import serializers

from sharing.models import (
    Delivery,
    Distribution,
    Publication,
    PublishedObject,
    TlpLevel,
    WebhookEndpoint,
)

# Ids are PostgreSQL bigints: anything larger is refused as input, not left to the database.
MAX_ID = 2**63 - 1


class PublishInputSerializer(serializers.Serializer):
    # A JSON object (not null, not a list or a number): anything else is a 400 with a message.
    bundle = serializers.DictField(
        help_text='A STIX 2.1 bundle: {"type": "bundle", "id": "bundle--<uuid>", "objects": [...]}'
    )
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
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
