"""verify_audit: an intact trail passes; edits, deletions and a cut tail are named by seq."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import services as ledger_services
from ledger.models import EntryState
from portal.audit import tasks
from portal.audit.hashing import chain_hash
from portal.audit.models import AuditAnchor, AuditEvent
from portal.audit.services import record, verify_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(alice, charlie):
    """Ten events after the fixtures' own (organisations created)."""
    for n in range(10):
        user = alice if n % 2 else charlie
        record(action="token_created", actor=user, target=f"token:{n}", detail={"n": n})
    return list(AuditEvent.objects.order_by("seq"))


@pytest.fixture(autouse=True)
def pinned(chain, settings):
    """The platform key pinned in the settings, as an operator does once it exists."""
    from ledger.keys import platform_signing_key

    settings.AUDIT_PLATFORM_PUBLIC_KEY = bytes(platform_signing_key().public_key).hex()
    return settings.AUDIT_PLATFORM_PUBLIC_KEY


def tamper(sql: str, params=()) -> None:
    """What someone with write access to the database could do."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Dropped inside the test's transaction: back when it rolls back.
            cursor.execute(
                "DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent"
            )
            cursor.execute(
                "DROP TRIGGER IF EXISTS portal_auditanchor_append_only ON portal_auditanchor"
            )
            cursor.execute(
                "DROP TRIGGER IF EXISTS portal_audithead_forward_only ON portal_audithead"
            )
        cursor.execute(sql, params)


def verify_audit(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=out)
    return out.getvalue()


def anchor_head() -> AuditAnchor:
    # The anchor task would be fired on commit, which never comes in these tests: the
    # checkpoint is anchored right here instead.
    seq = tasks.anchor_audit_head()
    ledger_services.anchor_pending()
    return AuditAnchor.objects.get(seq=seq)


def test_an_intact_trail_passes(trail):
    assert (
        verify_audit() == f"audit trail intact: {len(trail)} events, 0 anchors verified on chain\n"
    )


def test_it_can_count_one_organisation(trail, alice):
    report = verify_chain(organisation_id=alice.organisation_id)
    assert report.ok
    assert report.events == AuditEvent.objects.filter(organisation=alice.organisation).count()
    assert verify_audit("--organisation", str(alice.organisation_id)).startswith(
        f"audit trail intact: {report.events} events"
    )


def test_an_edited_row_is_named(trail):
    edited = trail[4]
    tamper("UPDATE portal_auditevent SET detail = %s WHERE seq = %s", ['{"n": 99}', edited.seq])
    with pytest.raises(CommandError, match=f"seq {edited.seq}: hash mismatch"):
        verify_audit()
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(edited.seq, "edited")]


def test_an_edited_and_rehashed_row_breaks_the_next_link(trail):
    edited = trail[4]
    edited.detail = {"n": 99}
    rehashed = chain_hash(edited.previous_hash, edited.hashed_fields())
    tamper(
        "UPDATE portal_auditevent SET detail = %s, hash = %s WHERE seq = %s",
        ['{"n": 99}', rehashed, edited.seq],
    )
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(edited.seq + 1, "relinked")]
    assert f"seq {edited.seq} was rewritten" in problems[0].message


def test_a_deleted_row_leaves_a_gap(trail):
    deleted = trail[5].seq
    tamper("DELETE FROM portal_auditevent WHERE seq = %s", [deleted])
    with pytest.raises(CommandError, match=f"seq {deleted}: seq {deleted} missing"):
        verify_audit()
    assert [p.kind for p in verify_chain().problems] == ["gap"]


def test_a_deleted_tail_is_caught_by_the_head_row(trail):
    last = trail[-1].seq
    tamper("DELETE FROM portal_auditevent WHERE seq > %s", [last - 3])
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(last - 2, "truncated")]
    assert f"records seq {last}" in problems[0].message


def test_the_anchored_head_verifies_on_chain(chain, trail):
    anchor = anchor_head()
    assert anchor.seq == trail[-1].seq and anchor.hash == trail[-1].hash
    anchor.entry.refresh_from_db()
    assert anchor.entry.state == EntryState.ANCHORED
    assert anchor.entry.signing_key.owner == "platform"
    assert anchor.entry.subject == f"audit-head@{anchor.seq}"

    assert (
        verify_audit() == f"audit trail intact: {len(trail)} events, 1 anchors verified on chain\n"
    )


def test_anchoring_is_skipped_while_the_head_stays(
    chain, trail, django_capture_on_commit_callbacks
):
    with (
        mock.patch("ledger.tasks.anchor.delay") as anchor_task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.anchor_audit_head() == trail[-1].seq
        assert tasks.anchor_audit_head() is None
        record(action="login_failed")
        assert tasks.anchor_audit_head() == trail[-1].seq + 1
    assert AuditAnchor.objects.count() == 2
    assert anchor_task.call_count == 2  # the ledger anchors each new head


def test_a_tail_deleted_along_with_the_head_row_is_caught_by_the_anchor(chain, trail):
    anchor = anchor_head()
    keep = trail[-4]
    tamper("DELETE FROM portal_auditevent WHERE seq > %s", [keep.seq])
    # Covering the tracks (with the triggers still dropped).
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_audithead SET seq = %s, hash = %s", [keep.seq, keep.hash])

    with pytest.raises(CommandError, match=f"seq {anchor.seq}: missing: the head anchored"):
        verify_audit()
    assert [(p.seq, p.kind) for p in verify_chain().problems] == [(anchor.seq, "truncated")]


def test_a_rewritten_chain_differs_from_the_anchored_hash(chain, trail):
    anchor = anchor_head()
    last = trail[-1]
    last.detail = {"n": 99}
    rehashed = chain_hash(last.previous_hash, last.hashed_fields())
    tamper(
        "UPDATE portal_auditevent SET detail = %s, hash = %s WHERE seq = %s",
        ['{"n": 99}', rehashed, last.seq],
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_audithead SET hash = %s", [rehashed])

    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(anchor.seq, "anchor")]
    assert "anchored hash differs" in problems[0].message


def test_an_anchor_not_yet_on_chain_is_reported(trail):
    seq = tasks.anchor_audit_head()  # its anchor task would run on commit: never, here
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(seq, "anchor")]
    assert "not on chain yet" in problems[0].message


def rewrite_from(first_seq: int) -> None:
    """Rewrite every event from `first_seq` on and recompute the hashes and the head, as
    someone with write access to the database (and the formula) could."""
    events = list(AuditEvent.objects.filter(seq__gte=first_seq).order_by("seq"))
    previous = AuditEvent.objects.get(seq=first_seq - 1).hash
    for event in events:
        event.detail = {"rewritten": True}
        event.previous_hash = previous
        event.hash = chain_hash(previous, event.hashed_fields())
        tamper(
            "UPDATE portal_auditevent SET detail = %s, previous_hash = %s, hash = %s "
            "WHERE seq = %s",
            ['{"rewritten": true}', event.previous_hash, event.hash, event.seq],
        )
        previous = event.hash
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_audithead SET hash = %s", [previous])


def test_deleted_anchor_rows_and_a_rewritten_trail_are_caught_from_the_chain(chain, trail):
    anchor = anchor_head()
    tamper("DELETE FROM portal_auditanchor")
    rewrite_from(trail[3].seq)
    # What the rows alone say now: nothing wrong.
    assert AuditAnchor.objects.count() == 0

    with pytest.raises(CommandError, match=f"seq {anchor.seq}: the chain anchored another hash"):
        verify_audit()
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(anchor.seq, "anchor"), (anchor.seq, "anchor")]
    assert "the trail was rewritten up to here" in problems[0].message
    assert "the anchor row of this seq was deleted" in problems[1].message


def test_deleted_anchor_rows_alone_are_caught(chain, trail):
    anchor = anchor_head()
    tamper("DELETE FROM portal_auditanchor")
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(anchor.seq, "anchor")]
    assert "AuditAnchor has no row for it" in problems[0].message


def test_a_deleted_anchor_entry_is_caught(chain, trail):
    anchor = anchor_head()
    # The checkpoint also holds the key directory's entries (ledger.keys), sealed before it.
    size = anchor.entry.checkpoint.tree_size
    assert anchor.entry.leaf_index == size - 1
    tamper("DELETE FROM portal_auditanchor")
    tamper("DELETE FROM ledger_entry WHERE id = %s", [anchor.entry_id])
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(0, "anchor")]
    assert f"1 of the {size} log entries anchored on chain are missing" in problems[0].message


def test_the_platform_key_comes_from_the_pin_not_the_database_label(chain, trail, settings):
    anchor = anchor_head()
    tamper("UPDATE ledger_signingkey SET owner = 'someone-else' WHERE owner = 'platform'")
    assert verify_chain().ok  # the label does not matter: the pinned key does

    from ledger import signing

    settings.AUDIT_PLATFORM_PUBLIC_KEY = signing.generate_keypair()[1].hex()
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(anchor.seq, "anchor")]
    assert "the chain holds no head of the pinned platform key" in problems[0].message


def test_without_a_pinned_platform_key_it_fails_closed(trail, settings):
    settings.AUDIT_PLATFORM_PUBLIC_KEY = ""
    with pytest.raises(CommandError, match="the platform key is not pinned"):
        verify_audit()
    settings.AUDIT_PLATFORM_PUBLIC_KEY = "not-hex"
    problems = verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(0, "pins")]
    assert "AUDIT_PLATFORM_PUBLIC_KEY must be 64 hex digits" in problems[0].message


def test_a_trust_root_file_pins_instead_of_the_settings(chain, trail, settings, tmp_path):
    import json

    from ledger.pinning import trust_root_document

    anchor_head()
    settings.AUDIT_PLATFORM_PUBLIC_KEY = ""
    path = tmp_path / "trust-root.json"
    path.write_text(json.dumps(trust_root_document(contract=chain.address, chain_id=31337)))
    assert verify_audit("--trust-root", str(path)).endswith("1 anchors verified on chain\n")

    document = json.loads(path.read_text())
    document["anchor_senders"] = ["0x" + "11" * 20]
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="was not anchored by a pinned sender"):
        verify_audit("--trust-root", str(path))
