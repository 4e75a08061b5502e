"""The reading indexes: observable values and references of stored objects.

`index_objects` runs in the transaction that stores the objects, so an object is never
visible without its index rows; `reindex_all` rebuilds them (the `reindex_objects` command).
"""

from collections.abc import Iterable

from django.db import transaction

from sharing import observables
from sharing.models import ObjectReference, ObservableValue, PublishedObject

BATCH = 2000


def index_objects(objects: Iterable[PublishedObject]) -> None:
    """Store the observable values and references of freshly saved objects (with ids)."""
    values: list[ObservableValue] = []
    refs: list[ObjectReference] = []
    for obj in objects:
        values.extend(
            ObservableValue(object_id=obj.id, path=path, value=value)
            for path, value in observables.observable_values(obj.body)
        )
        refs.extend(
            ObjectReference(source_id=obj.id, property=name[:100], target_stix_id=target[:100])
            for name, target in observables.references(obj.body)
        )
    ObservableValue.objects.bulk_create(values, batch_size=BATCH)
    ObjectReference.objects.bulk_create(refs, batch_size=BATCH)


def reindex_all() -> int:
    """Rebuild the indexes of every stored object; returns how many objects were indexed."""
    count = 0
    with transaction.atomic():
        ObservableValue.objects.all().delete()
        ObjectReference.objects.all().delete()
        batch: list[PublishedObject] = []
        for obj in PublishedObject.objects.only("id", "body").iterator(chunk_size=BATCH):
            batch.append(obj)
            if len(batch) == BATCH:
                index_objects(batch)
                count += len(batch)
                batch = []
        index_objects(batch)
        count += len(batch)
    return count
