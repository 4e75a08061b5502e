"""Organisation-held signing keys: registration, rotation and revocation by organisation
admins whose session passed a second factor; the page, the API and the trust root.

alice administers Nordgrid, bob reads there, charlie administers another organisation.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from ledger import pinning, signing
from ledger.models import Custody, Entry, KeyEvent, KeyEventKind, SigningKey
from portal.audit.models import AuditAction, AuditEvent
from portal.models import Role
from portal.services import organisation_keys
from tests.conftest import _member

pytestmark = pytest.mark.django_db


def new_public_key() -> str:
    return signing.generate_keypair()[1].hex()


def login_with_second_factor(client, user) -> None:
    """Log in as allauth leaves a session after password and authenticator app."""
    client.force_login(user)
    session = client.session
    now = timezone.now().timestamp()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp", "id": 1},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


def own_keys(user):
    return SigningKey.objects.filter(owner=user.organisation.stix_identity_id)


def snapshot():
    return (
        SigningKey.objects.count(),
        KeyEvent.objects.count(),
        Entry.objects.count(),
        AuditEvent.objects.filter(action__startswith="signing_key").count(),
    )


# --- Services ------------------------------------------------------------------------------


def test_an_admin_with_a_second_factor_registers_a_key(alice):
    public = new_public_key()
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=public, second_factor=True
    )
    assert key.custody == Custody.ORGANISATION
    assert key.encrypted_private_key == ""
    assert bytes(key.public_key).hex() == public
    assert key.owner == alice.organisation.stix_identity_id
    assert key.registered_by == alice.email
    event = AuditEvent.objects.get(action=AuditAction.SIGNING_KEY_REGISTERED)
    assert event.detail["key_id"] == key.key_id and event.organisation == alice.organisation
    # Key transparency: the registration is an entry of the log, sealed by the platform key.
    sealed = KeyEvent.objects.get(signing_key=key)
    assert sealed.kind == KeyEventKind.REGISTERED
    assert sealed.payload["public_key"] == public
    assert sealed.payload["custody"] == "organisation-held"
    assert sealed.payload["organisation"] == key.owner
    assert sealed.entry.signing_key.owner == "platform"
    assert sealed.entry.subject == f"key-registered:{key.key_id}"


def test_a_pem_public_key_is_accepted(alice):
    private, public = signing.generate_keypair()
    pem = signing.public_key_pem(public).decode()
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=pem, second_factor=True
    )
    assert bytes(key.public_key) == public


def test_it_needs_a_second_factor(alice):
    before = snapshot()
    with pytest.raises(PermissionDenied, match="second factor"):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=new_public_key(), second_factor=False
        )
    assert snapshot() == before


def test_it_needs_an_admin(bob, publisher):
    before = snapshot()
    for user in (bob, publisher):
        with pytest.raises(PermissionDenied, match="organisation admins"):
            organisation_keys.register_organisation_key(
                acting_user=user, public_key=new_public_key(), second_factor=True
            )
    assert snapshot() == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "give the Ed25519 public key"),
        ("zz" * 32, "neither 64 hex digits nor a PEM block"),
        ("ab" * 31, "got 31 bytes"),
        ("-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----", "not a readable"),
        ("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----", "this is a private key"),
    ],
)
def test_malformed_keys_are_refused(alice, text, message):
    before = snapshot()
    with pytest.raises(ValidationError, match=message):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=text, second_factor=True
        )
    assert snapshot() == before


def test_a_key_of_another_algorithm_is_refused(alice):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValidationError, match="another algorithm"):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=pem, second_factor=True
        )


def test_duplicates_and_keys_of_another_organisation_are_refused(alice, charlie):
    public = new_public_key()
    organisation_keys.register_organisation_key(
        acting_user=alice, public_key=public, second_factor=True
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="already registered for your organisation"):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=public, second_factor=True
        )
    with pytest.raises(ValidationError, match="registered by another organisation"):
        organisation_keys.register_organisation_key(
            acting_user=charlie, public_key=public, second_factor=True
        )
    # The portal-held key of another organisation cannot be claimed either.
    portal_held = SigningKey.objects.get(
        owner=alice.organisation.stix_identity_id, custody="portal-held"
    )
    with pytest.raises(ValidationError, match="registered by another organisation"):
        organisation_keys.register_organisation_key(
            acting_user=charlie, public_key=bytes(portal_held.public_key).hex(), second_factor=True
        )
    assert snapshot() == before


def test_rotation_ends_the_old_window_and_registers_the_new_key(alice):
    old = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    at = timezone.now() + timedelta(hours=2)
    new = organisation_keys.rotate_organisation_key(
        acting_user=alice, key=old, new_public_key=new_public_key(), at=at, second_factor=True
    )
    old.refresh_from_db()
    assert old.valid_until == at and old.revoked_at is None
    assert new.valid_from == at and new.custody == Custody.ORGANISATION
    rotated = KeyEvent.objects.get(signing_key=old, kind=KeyEventKind.ROTATED)
    assert rotated.payload["replaced_by"] == new.key_id
    assert rotated.payload["valid_until"] is not None
    assert AuditEvent.objects.filter(action=AuditAction.SIGNING_KEY_ROTATED).count() == 1


def test_revocation_records_time_and_reason(alice):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    revoked = organisation_keys.revoke_organisation_key(
        acting_user=alice, key=key, reason="laptop stolen", second_factor=True
    )
    assert revoked.revoked_at is not None and revoked.revocation_reason == "laptop stolen"
    sealed = KeyEvent.objects.get(signing_key=key, kind=KeyEventKind.REVOKED)
    assert sealed.payload["reason"] == "laptop stolen" and sealed.payload["revoked_at"]
    before = snapshot()
    with pytest.raises(ValidationError, match="already revoked"):
        organisation_keys.revoke_organisation_key(
            acting_user=alice, key=key, reason="again", second_factor=True
        )
    with pytest.raises(ValidationError, match="revoked; register a new key"):
        organisation_keys.rotate_organisation_key(
            acting_user=alice, key=key, new_public_key=new_public_key(), second_factor=True
        )
    assert snapshot() == before


def test_revocation_needs_a_reason_a_second_factor_and_an_admin(alice, bob):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="reason"):
        organisation_keys.revoke_organisation_key(
            acting_user=alice, key=key, reason="  ", second_factor=True
        )
    with pytest.raises(PermissionDenied):
        organisation_keys.revoke_organisation_key(
            acting_user=alice, key=key, reason="x", second_factor=False
        )
    with pytest.raises(PermissionDenied):
        organisation_keys.revoke_organisation_key(
            acting_user=bob, key=key, reason="x", second_factor=True
        )
    assert snapshot() == before


def test_another_organisations_key_is_not_found(alice, charlie):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    before = snapshot()
    with pytest.raises(Http404):
        organisation_keys.revoke_organisation_key(
            acting_user=charlie, key=key, reason="x", second_factor=True
        )
    with pytest.raises(Http404):
        organisation_keys.rotate_organisation_key(
            acting_user=charlie, key=key, new_public_key=new_public_key(), second_factor=True
        )
    assert snapshot() == before


def test_the_portal_held_key_is_not_revoked_here(alice):
    portal_held = own_keys(alice).get(custody=Custody.PORTAL)
    with pytest.raises(ValidationError, match="managed by the platform"):
        organisation_keys.revoke_organisation_key(
            acting_user=alice, key=portal_held, reason="x", second_factor=True
        )


def test_creating_an_organisation_seals_its_portal_held_key(nordgrid):
    key = SigningKey.objects.get(owner=nordgrid.stix_identity_id)
    event = KeyEvent.objects.get(signing_key=key)
    assert event.kind == KeyEventKind.CREATED
    assert event.payload["custody"] == "portal-held"
    assert event.payload["key_id"] == key.key_id


# --- The trust root ------------------------------------------------------------------------


def test_the_trust_root_publishes_custody_and_window(alice):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    organisation_keys.revoke_organisation_key(
        acting_user=alice, key=key, reason="lost", second_factor=True
    )
    key.refresh_from_db()
    pinned = pinning.pinned_key(key)
    assert pinned["custody"] == "organisation-held"
    assert pinned["revoked_at"] == key.revoked_at
    assert pinned["valid_from"] == key.valid_from - pinning.CLOCK_SKEW
    portal_held = own_keys(alice).get(custody=Custody.PORTAL)
    assert pinning.pinned_key(portal_held)["custody"] == "portal-held"


# --- The page ------------------------------------------------------------------------------


def test_the_page_lists_the_keys(client, alice, bob, django_assert_num_queries):
    organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    client.force_login(bob)
    response = client.get(reverse("organisation-keys"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Organisation-held" in page and "Portal-held" in page
    for key in own_keys(alice):
        assert key.key_id in page and signing.fingerprint(bytes(key.public_key)) in page
    assert "Register the key" not in page  # bob reads only
    for _ in range(3):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=new_public_key(), second_factor=True
        )
    # Session, user, allauth's user-session record (two savepoints, read, user, update),
    # organisation, keys, the unread count next to Inbox: the same however many keys.
    with django_assert_num_queries(10):
        client.get(reverse("organisation-keys"))


def test_the_page_registers_with_a_second_factor_only(client, alice):
    public = new_public_key()
    client.force_login(alice)
    response = client.post(reverse("organisation-keys"), {"public_key": public})
    assert response.status_code == 403
    assert "second factor" in response.content.decode()
    assert not own_keys(alice).filter(custody=Custody.ORGANISATION).exists()

    login_with_second_factor(client, alice)
    response = client.post(reverse("organisation-keys"), {"public_key": public})
    assert response.status_code == 302
    assert own_keys(alice).filter(custody=Custody.ORGANISATION).count() == 1


def test_the_page_escapes_and_explains_a_bad_key(client, alice):
    login_with_second_factor(client, alice)
    response = client.post(reverse("organisation-keys"), {"public_key": "<script>x</script>"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "<script>x</script>" not in page and "neither 64 hex digits" in page


def test_the_page_revokes_and_another_organisation_gets_404(client, alice, charlie):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    login_with_second_factor(client, charlie)
    url = reverse("organisation-key-revoke", args=[key.key_id])
    assert client.post(url, {"reason": "mine now"}).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    login_with_second_factor(client, alice)
    assert client.post(url, {"reason": "rotated out"}).status_code == 302
    key.refresh_from_db()
    assert key.revocation_reason == "rotated out"


def test_the_page_rotates(client, alice):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    login_with_second_factor(client, alice)
    public = new_public_key()
    response = client.post(
        reverse("organisation-key-rotate", args=[key.key_id]), {"public_key": public}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.valid_until is not None
    assert own_keys(alice).filter(key_id=signing.key_id(bytes.fromhex(public))).exists()


# --- The API -------------------------------------------------------------------------------


def test_the_api_registers_rotates_and_revokes_with_a_session_and_second_factor(client, alice):
    login_with_second_factor(client, alice)
    public = new_public_key()
    response = client.post("/api/organisation/keys/", {"public_key": public}, "application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["custody"] == "organisation-held" and body["status"] == "valid"
    key_id = body["key_id"]
    response = client.post(
        f"/api/organisation/keys/{key_id}/rotate/",
        {"public_key": new_public_key()},
        "application/json",
    )
    assert response.status_code == 201, response.content
    new_id = response.json()["key_id"]
    response = client.post(
        f"/api/organisation/keys/{new_id}/revoke/", {"reason": "test"}, "application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    listed = client.get("/api/organisation/keys/").json()["results"]
    assert {row["key_id"] for row in listed} >= {key_id, new_id}


def test_the_api_refuses_tokens_sessions_without_second_factor_and_non_admins(
    client, alice, bob, token_for
):
    before = snapshot()
    body = {"public_key": new_public_key()}
    response = client.post(
        "/api/organisation/keys/", body, "application/json", headers=token_for(alice)
    )
    assert response.status_code == 403 and "API token" in response.json()["detail"]
    client.force_login(alice)
    response = client.post("/api/organisation/keys/", body, "application/json")
    assert response.status_code == 403 and "second factor" in response.json()["detail"]
    login_with_second_factor(client, bob)
    response = client.post("/api/organisation/keys/", body, "application/json")
    assert response.status_code == 403
    login_with_second_factor(client, alice)
    response = client.post("/api/organisation/keys/", {"public_key": "nope"}, "application/json")
    assert response.status_code == 400 and "hex" in response.json()["detail"]
    assert snapshot() == before


def test_the_api_answers_404_for_another_organisations_key(client, alice, charlie):
    key = organisation_keys.register_organisation_key(
        acting_user=alice, public_key=new_public_key(), second_factor=True
    )
    login_with_second_factor(client, charlie)
    response = client.post(
        f"/api/organisation/keys/{key.key_id}/revoke/", {"reason": "x"}, "application/json"
    )
    assert response.status_code == 404
    listed = client.get("/api/organisation/keys/").json()["results"]
    assert key.key_id not in {row["key_id"] for row in listed}


def test_the_api_lists_keys_in_a_fixed_number_of_queries(
    client, alice, token_for, django_assert_num_queries
):
    headers = token_for(alice)
    client.get("/api/organisation/keys/", headers=headers)
    for _ in range(4):
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=new_public_key(), second_factor=True
        )
    with django_assert_num_queries(3):  # token, count, page
        response = client.get("/api/organisation/keys/", headers=headers)
    assert len(response.json()["results"]) == 5


def test_a_reader_cannot_register(client, nordgrid):
    reader = _member(nordgrid, "rita@nordgrid.example", Role.READER)
    login_with_second_factor(client, reader)
    response = client.post(
        "/api/organisation/keys/", {"public_key": new_public_key()}, "application/json"
    )
    assert response.status_code == 403


def test_a_refused_rotation_is_shown_on_its_row_and_ids_stay_unique(client, alice):
    import re

    keys = [
        organisation_keys.register_organisation_key(
            acting_user=alice, public_key=new_public_key(), second_factor=True
        )
        for _ in range(2)
    ]
    login_with_second_factor(client, alice)
    response = client.post(
        reverse("organisation-key-rotate", args=[keys[0].key_id]), {"public_key": "nope"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "neither 64 hex digits" in page
    assert f'id="rotate-{keys[0].pk}-public_key"' in page
    assert "<details open><summary>Rotate</summary>" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    keys[0].refresh_from_db()
    assert keys[0].valid_until is None
