"""The audit anchors and the chain head are protected by the database like the events: no
DELETE, no UPDATE of an anchor, and the head only moves forward to an event that exists."""

import pytest
from django.db import DatabaseError, connection, transaction

from ledger import services as ledger_services
from portal.audit import tasks
from portal.audit.models import AuditAnchor, AuditEvent, AuditHead
from portal.audit.services import record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"
    ),
]


def refused(sql: str, params=(), *, match: str) -> None:
    with connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match=match), transaction.atomic():
            cursor.execute(sql, params)


@pytest.fixture
def anchored(chain, alice):
    for n in range(3):
        record(action="token_created", actor=alice, target=f"token:{n}")
    seq = tasks.anchor_audit_head()
    ledger_services.anchor_pending()
    return AuditAnchor.objects.get(seq=seq)


def test_an_anchor_row_cannot_be_changed_or_deleted(anchored):
    refused(
        "UPDATE portal_auditanchor SET hash = %s WHERE id = %s",
        ["0" * 64, anchored.pk],
        match="the audit anchors are append-only: UPDATE",
    )
    refused(
        "DELETE FROM portal_auditanchor WHERE id = %s",
        [anchored.pk],
        match="the audit anchors are append-only: DELETE",
    )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditAnchor.objects.all().delete()
    anchored.refresh_from_db()
    assert AuditAnchor.objects.get().hash == anchored.hash


def test_the_head_row_cannot_be_deleted_or_moved_back(anchored):
    head = AuditHead.objects.get()
    earlier = AuditEvent.objects.get(seq=head.seq - 1)
    refused("DELETE FROM portal_audithead", match="only moves forward: DELETE")
    refused(
        "UPDATE portal_audithead SET seq = %s, hash = %s",
        [earlier.seq, earlier.hash],
        match=f"only moves forward: seq {head.seq} to {earlier.seq} refused",
    )
    refused(
        "UPDATE portal_audithead SET hash = %s",
        ["f" * 64],
        match=f"only moves forward: seq {head.seq} to {head.seq} refused",
    )
    refused(
        "UPDATE portal_audithead SET seq = seq + 1, hash = %s",
        ["f" * 64],
        match="is not an event",
    )
    assert (AuditHead.objects.get().seq, AuditHead.objects.get().hash) == (head.seq, head.hash)


def test_the_head_still_moves_forward_with_each_event(anchored):
    before = AuditHead.objects.get().seq
    event = record(action="login_failed")
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (before + 1, event.hash)
    # Appending and anchoring again work under the triggers.
    assert tasks.anchor_audit_head() == event.seq
