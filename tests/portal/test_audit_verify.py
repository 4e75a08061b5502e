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


def tamper(sql: str, params=()) -> None:
    """What someone with write access to the database could do."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Dropped inside the test's transaction: back when it rolls back.
            cursor.execute("DROP TRIGGER portal_auditevent_append_only ON portal_auditevent")
            cursor.execute("DROP TRIGGER portal_auditanchor_append_only ON portal_auditanchor")
            cursor.execute("DROP TRIGGER portal_audithead_forward_only ON portal_audithead")
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
