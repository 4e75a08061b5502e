"""bulk_set writes exactly the given fields of exactly the given rows, like bulk_update."""

import pytest

from ledger.bulk import bulk_set
from ledger.models import Entry, EntryState
from ledger.services import SealRequest, create_signing_key, seal_many

pytestmark = pytest.mark.django_db


def test_it_sets_each_rows_own_values_and_leaves_the_rest_alone():
    key = create_signing_key(owner="identity--test")
    entries = seal_many(
        [SealRequest(payload={"n": n}, subject=f"s{n}", signing_key=key) for n in range(5)]
    )
    changed = entries[:3]
    for offset, entry in enumerate(changed):
        entry.leaf_index = 40 + offset
        entry.state = EntryState.LOGGED
        entry.subject = "must not be written"
    bulk_set(changed, ["leaf_index", "state"], batch_size=2)  # two statements

    rows = {e.id: e for e in Entry.objects.all()}
    assert [(rows[e.id].leaf_index, rows[e.id].state) for e in changed] == [
        (40, "logged"),
        (41, "logged"),
        (42, "logged"),
    ]
    assert {rows[e.id].subject for e in changed} == {"s0", "s1", "s2"}
    assert [(rows[e.id].leaf_index, rows[e.id].state) for e in entries[3:]] == [
        (None, "sealed"),
        (None, "sealed"),
    ]


def test_it_writes_json_and_foreign_keys(trust_group, publisher):
    from sharing.models import PublishedObject
    from tests.sharing.test_pipeline import publish

    publication = publish(publisher)
    items = list(publication.items.all())
    key = create_signing_key(owner="identity--test")
    entries = seal_many(
        [SealRequest(payload=item.body, subject="x", signing_key=key) for item in items]
    )
    for item, entry in zip(items, entries, strict=True):
        item.entry = entry
        item.receipt = {"entry": entry.id, "nested": {"quote": 'it\'s "fine"'}}
    bulk_set(items, ["entry", "receipt"])

    stored = PublishedObject.objects.filter(publication=publication).order_by("id")
    assert [(o.entry_id, o.receipt["entry"]) for o in stored] == [(e.id, e.id) for e in entries]
    assert stored[0].receipt["nested"]["quote"] == 'it\'s "fine"'
