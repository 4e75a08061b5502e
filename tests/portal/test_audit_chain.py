"""The audit trail's hash chain: links, transactions, seq, the append-only trigger."""

import hashlib
import threading
from datetime import UTC, datetime

import pytest
import rfc8785
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction

from portal.audit.hashing import GENESIS_HASH, chain_hash, event_fields, format_timestamp
from portal.audit.models import AuditEvent, AuditHead
from portal.audit.services import record, request_ip

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def expected_hash(event: AuditEvent) -> str:
    """The formula of docs/audit.md, written out independently of portal.audit.hashing."""
    fields = {
        "seq": event.seq,
        "created_at": event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": event.action,
        "actor_email": event.actor_email,
        "organisation": event.organisation_id,
        "target": event.target,
        "detail": event.detail,
        "ip": event.ip,
    }
    tagged = b"cti-portal:audit:v1\x00" + bytes.fromhex(event.previous_hash)
    return hashlib.sha256(tagged + rfc8785.dumps(fields)).hexdigest()


def test_each_hash_covers_the_previous_one(alice):
    record(action="token_created", actor=alice, target="token:1", detail={"name": "ci"})
    record(action="login_failed", detail={"email": "mallory@example.com"}, ip="203.0.113.9")
    events = list(AuditEvent.objects.order_by("seq"))

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].previous_hash == GENESIS_HASH
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.hash
    for event in events:
        event.refresh_from_db()  # what the database gives back is what gets rehashed
        assert event.hash == expected_hash(event)
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)


def test_it_records_who_for_which_organisation(alice):
    event = record(action="token_created", actor=alice, target="token:7", ip="2001:DB8::1")
    event.refresh_from_db()
    assert event.actor == alice and event.actor_email == "alice@nordgrid.example"
    assert event.organisation == alice.organisation  # the actor's, when none is given
    assert event.ip == "2001:db8::1"
    assert event.hash == expected_hash(event)


def test_an_anonymous_actor_is_nobody():
    event = record(action="join_request_submitted", actor=AnonymousUser(), ip="not an address")
    assert event.actor is None and event.actor_email == "" and event.ip is None


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown audit action"):
        record(action="coffee_made")


def test_timestamps_are_hashed_in_utc_with_microseconds():
    event = record(action="login_failed")
    assert format_timestamp(event.created_at).endswith("Z")
    assert len(format_timestamp(event.created_at)) == len("2025-01-31T09:15:00.000123Z")


def test_it_rolls_back_with_its_callers_transaction():
    record(action="login_failed", detail={"email": "first@example.com"})
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="token_created", target="token:1")
        raise RuntimeError("the action failed")
    assert not AuditEvent.objects.filter(action="token_created").exists()
    assert AuditHead.objects.get().seq == 1

    event = record(action="login_failed", detail={"email": "second@example.com"})
    assert event.seq == 2
    assert event.previous_hash == AuditEvent.objects.get(seq=1).hash


def test_seq_is_gapless_over_many_appends():
    for n in range(20):
        record(action="login_failed", detail={"n": n})
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 21)
    )


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    errors = []

    def append(worker: int) -> None:
        try:
            for n in range(5):
                with transaction.atomic():
                    record(action="login_failed", detail={"worker": worker, "n": n})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 31))
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.hash


@postgresql_only
def test_the_database_refuses_to_change_or_delete_a_row():
    event = record(action="login_failed", detail={"email": "x@example.com"})
    with connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(
                "UPDATE portal_auditevent SET detail = '{}'::jsonb WHERE id = %s", [event.pk]
            )
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.detail == {"email": "x@example.com"}


@postgresql_only
def test_deleting_a_user_keeps_their_events(nordgrid):
    from portal.services import create_member

    member = create_member(
        organisation=nordgrid, email="leaver@nordgrid.example", role=10, password=None
    )
    event = record(action="token_created", actor=member, target="token:3")
    member.delete()  # ON DELETE SET NULL: the one update the trigger lets through
    event.refresh_from_db()
    assert event.actor is None and event.actor_email == "leaver@nordgrid.example"
    assert event.hash == expected_hash(event)


def test_the_client_address_honours_the_trusted_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert request_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert request_ip(request) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert request_ip(request) == "1.1.1.1"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer addresses than proxies: the header is not theirs
    assert request_ip(request) == "10.0.0.2"
    assert request_ip(None) is None


def test_the_documented_example_hashes_as_documented():
    fields = event_fields(
        seq=1,
        created_at=datetime(2025, 1, 31, 9, 15, 0, 123, tzinfo=UTC),
        action="login",
        actor_email="alice@nordgrid.example",
        organisation_id=1,
        target="user:3",
        detail={},
        ip="192.0.2.44",
    )
    assert fields["created_at"] == "2025-01-31T09:15:00.000123Z"
    assert chain_hash(GENESIS_HASH, fields) == (
        "c143ba8089d680b439b582a7a38ca53bd10c36f89197c4b20131c050a739956a"
    )
