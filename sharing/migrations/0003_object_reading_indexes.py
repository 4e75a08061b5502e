"""Indexes for reading: objects by STIX id, an organisation's inbox in order, the observable values and references of every
object, and (on PostgreSQL only) a full-text index over objects' names and descriptions."""

import django.db.models.deletion
from django.db import migrations, models

# Must stay the expression of sharing.reading._ObjectDocument: PostgreSQL uses the index only
# for the same expression (a test checks the plan).
TEXT_INDEX = """
CREATE INDEX IF NOT EXISTS published_object_text ON sharing_publishedobject USING gin (
    to_tsvector('english'::regconfig,
        COALESCE((body ->> 'name'), '') || ' ' || COALESCE((body ->> 'description'), ''))
)
"""


def create_text_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TEXT_INDEX)


def drop_text_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS published_object_text")


def index_stored_objects(apps, schema_editor):
    """Objects published before this migration get their index rows too."""
    from sharing import observables

    PublishedObject = apps.get_model("sharing", "PublishedObject")
    ObservableValue = apps.get_model("sharing", "ObservableValue")
    ObjectReference = apps.get_model("sharing", "ObjectReference")
    for obj in PublishedObject.objects.only("id", "body").iterator(chunk_size=2000):
        ObservableValue.objects.bulk_create(
            ObservableValue(object_id=obj.id, path=path, value=value)
            for path, value in observables.observable_values(obj.body)
        )
        ObjectReference.objects.bulk_create(
            ObjectReference(source_id=obj.id, property=name[:100], target_stix_id=target[:100])
            for name, target in observables.references(obj.body)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0002_publication_idempotency"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="publishedobject",
            index=models.Index(fields=["stix_id", "version"], name="published_object_stix_id"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                fields=["organisation", "-created_at", "-id"], name="delivery_inbox_order"
            ),
        ),
        migrations.CreateModel(
            name="ObservableValue",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("path", models.CharField(max_length=200)),
                ("value", models.CharField(db_index=True, max_length=512)),
                (
                    "object",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="observable_values",
                        to="sharing.publishedobject",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ObjectReference",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("property", models.CharField(max_length=100)),
                ("target_stix_id", models.CharField(db_index=True, max_length=100)),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outgoing_references",
                        to="sharing.publishedobject",
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_text_index, drop_text_index, elidable=False),
        migrations.RunPython(index_stored_objects, migrations.RunPython.noop),
    ]
