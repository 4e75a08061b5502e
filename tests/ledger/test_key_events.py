"""Key transparency: every change of the key directory is an entry of the log, listed with its
receipt once anchored (GET /api/ledger/key-events/), and what each organisation's keys signed
(GET /api/organisation/keys/entries/ and its page)."""

import pytest
from django.urls import reverse

from ledger import keys as ledger_keys
from ledger import services as ledger_services
from ledger import signing
from ledger.models import KeyEvent, KeyEventKind
from ledger.verify import verify_item
from portal.services import organisation_keys
from tests.sharing.test_pipeline import anchor_all, publish, run_pipeline

pytestmark = pytest.mark.django_db


def register(admin):
    return organisation_keys.register_organisation_key(
        acting_user=admin, public_key=signing.generate_keypair()[1].hex(), second_factor=True
    )


def test_key_events_are_listed_without_receipts_until_anchored(
    client, alice, charlie, token_for, django_assert_num_queries
):
    key = register(alice)
    headers = token_for(charlie)  # any member may read the directory's history
    client.get("/api/ledger/key-events/", headers=headers)
    for _ in range(3):
        register(alice)
    with django_assert_num_queries(3):  # token, count, page (no receipt to build yet)
        answer = client.get("/api/ledger/key-events/", headers=headers)
    events = answer.json()["results"]
    assert answer.json()["count"] == KeyEvent.objects.count()
    assert all(event["receipt"] is None and event["state"] == "sealed" for event in events)
    mine = client.get(f"/api/ledger/key-events/?key_id={key.key_id}", headers=headers).json()
    [registered] = mine["results"]
    assert registered["kind"] == "registered"
    assert registered["organisation"] == alice.organisation.stix_identity_id
    assert registered["payload"]["public_key"] == bytes(key.public_key).hex()
    by_organisation = client.get(
        f"/api/ledger/key-events/?organisation={charlie.organisation.stix_identity_id}",
        headers=headers,
    ).json()["results"]
    assert [event["kind"] for event in by_organisation] == ["created"]


def test_anchored_key_events_carry_receipts_that_verify(
    chain, client, alice, token_for, django_assert_max_num_queries
):
    key = register(alice)
    organisation_keys.revoke_organisation_key(
        acting_user=alice, key=key, reason="test", second_factor=True
    )
    anchor_all()
    headers = token_for(alice)
    with django_assert_max_num_queries(6):  # token, count, page, checkpoints, proof nodes
        events = client.get("/api/ledger/key-events/", headers=headers).json()["results"]
    assert {e["kind"] for e in events} >= {"created", "registered", "revoked"}
    for event in events:
        checks = verify_item(
            event["payload"], event["receipt"], chain=ledger_services.chain_client()
        )
        assert all(check.ok for check in checks), checks
        assert event["receipt"]["signature"]["organisation"] == ledger_keys.PLATFORM_OWNER
    # The payload binds the key's identity, custody and window: changing it breaks the proof.
    revoked = next(e for e in events if e["kind"] == "revoked")
    forged = {**revoked["payload"], "revoked_at": None}
    checks = verify_item(forged, revoked["receipt"], chain=ledger_services.chain_client())
    assert not all(check.ok for check in checks)


def test_the_platform_key_seals_its_own_creation(db):
    platform = ledger_keys.platform_signing_key()
    event = KeyEvent.objects.get(signing_key=platform)
    assert event.kind == KeyEventKind.CREATED and event.entry.signing_key_id == platform.pk


def test_an_organisation_sees_what_was_signed_under_its_keys(
    chain, client, trust_group, publisher, charlie, token_for, django_assert_num_queries
):
    run_pipeline(publish(publisher))
    headers = token_for(publisher)
    client.get("/api/organisation/keys/entries/", headers=headers)  # records the token's use
    with django_assert_num_queries(3):  # token, count, page
        answer = client.get("/api/organisation/keys/entries/", headers=headers)
    entries = answer.json()["results"]
    assert len(entries) == 2
    assert all(e["custody"] == "portal-held" and e["state"] == "anchored" for e in entries)
    run_pipeline(publish(publisher))
    with django_assert_num_queries(3):
        answer = client.get("/api/organisation/keys/entries/", headers=headers)
    assert answer.json()["count"] == 4
    # Another organisation sees none of them.
    other = client.get("/api/organisation/keys/entries/", headers=token_for(charlie)).json()
    assert other["count"] == 0


def test_the_signed_entries_page_lists_them_a_page_at_a_time(
    chain, client, trust_group, publisher, charlie, django_assert_num_queries
):
    run_pipeline(publish(publisher))
    client.force_login(publisher)
    page = client.get(reverse("organisation-key-entries"))
    assert page.status_code == 200
    html = page.content.decode()
    entry_subjects = [
        item.entry.subject for item in publisher.organisation.publications.get().items.all()
    ]
    assert all(subject in html for subject in entry_subjects)
    # The 9 of every logged-in request (tests/sharing/test_reading_queries.py, the unread
    # count next to Inbox among them), then organisation, count, page: the same with more
    # entries.
    with django_assert_num_queries(9 + 3) as before:
        client.get(reverse("organisation-key-entries"))
    run_pipeline(publish(publisher))
    with django_assert_num_queries(len(before.captured_queries)):
        client.get(reverse("organisation-key-entries"))
    client.force_login(charlie)
    html = client.get(reverse("organisation-key-entries")).content.decode()
    assert not any(subject in html for subject in entry_subjects)
