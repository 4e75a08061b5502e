"""Client-signed submissions through the publish API: checked before anything is stored, stored
verbatim, sealed with the client's salt and signature (the portal never signs with an
organisation-held key)."""

import copy

import pytest

from ledger import canonical, signing
from ledger import services as ledger_services
from ledger.models import Entry, SigningKey
from ledger.sign import sign_bundle
from portal.services import organisation_keys
from sharing import stix
from sharing.models import Publication, PublishedObject
from sharing.services import pipeline
from tests import stix_samples

pytestmark = pytest.mark.django_db


def own_objects(organisation, tlp="amber", count=2):
    marking = stix.TLP2_MARKING_ID[tlp]
    return [
        {
            **stix_samples.indicator(f"[ipv4-addr:value = '198.51.100.{n}']"),
            "created_by_ref": organisation.stix_identity_id,
            "object_marking_refs": [marking],
        }
        for n in range(count)
    ]


def register(admin) -> tuple[bytes, SigningKey]:
    private, public = signing.generate_keypair()
    key = organisation_keys.register_organisation_key(
        acting_user=admin, public_key=public.hex(), second_factor=True
    )
    return private, key


def submission(organisation, private, *, objects=None, tlp="amber", signer=None):
    """The request body `python -m ledger.sign` writes; `signer` signs for another
    organisation (as if the client named the wrong one)."""
    bundle = stix_samples.bundle(*(objects or own_objects(signer or organisation, tlp)))
    signed = sign_bundle(
        bundle, private_key=private, organisation=(signer or organisation).stix_identity_id
    )
    return {"bundle": bundle, "signatures": signed, "distribution": "organisation", "tlp": tlp}


def post(client, headers, body):
    return client.post("/api/publications/", body, "application/json", headers=headers)


def assert_refused(response, message):
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["errors"]), response.json()
    assert Publication.objects.count() == 0
    assert PublishedObject.objects.count() == 0
    assert not Entry.objects.filter(key_event__isnull=True).exists()


def test_a_signed_submission_is_stored_verbatim_and_sealed_with_the_clients_signature(
    client, alice, publisher, token_for
):
    private, key = register(alice)
    body = submission(publisher.organisation, private)
    response = post(client, token_for(publisher), body)
    assert response.status_code == 202, response.content

    items = list(PublishedObject.objects.order_by("id"))
    assert [item.body for item in items] == body["bundle"]["objects"]  # no stamping
    assert {item.client_key_id for item in items} == {key.pk}

    assert pipeline.seal_received() == 1
    for item, signed in zip(items, body["signatures"]["objects"], strict=True):
        item.refresh_from_db()
        entry = item.entry
        assert entry.signing_key_id == key.pk
        assert bytes(entry.salt).hex() == signed["salt"]
        assert bytes(entry.signature).hex() == signed["signature"]
        assert bytes(entry.leaf).hex() == signed["leaf"]
        assert entry.receipt_version == 2


def test_the_portal_cannot_sign_with_an_organisation_held_key(alice):
    _, key = register(alice)
    with pytest.raises(ledger_services.ClientSignatureError, match="cannot sign with it"):
        ledger_services.seal(payload={"a": "b"}, subject="x@1", signing_key=key)
    assert key.encrypted_private_key == ""


def test_a_forged_client_signature_is_not_sealed(alice):
    _, key = register(alice)
    salt = canonical.new_salt()
    request = ledger_services.SealRequest(
        payload={"a": "b"}, subject="x@1", signing_key=key, salt=salt, signature=bytes(64)
    )
    with pytest.raises(ledger_services.ClientSignatureError, match="does not verify"):
        ledger_services.seal_many([request])


def test_an_unregistered_key_is_refused(client, publisher, token_for):
    private, public = signing.generate_keypair()
    response = post(client, token_for(publisher), submission(publisher.organisation, private))
    assert_refused(response, f"key {signing.key_id(public)} is not registered")


def test_a_revoked_key_is_refused(client, alice, publisher, token_for):
    private, key = register(alice)
    organisation_keys.revoke_organisation_key(
        acting_user=alice, key=key, reason="lost", second_factor=True
    )
    response = post(client, token_for(publisher), submission(publisher.organisation, private))
    assert_refused(response, f"key {key.key_id} was revoked")


def test_a_rotated_out_key_is_refused(client, alice, publisher, token_for):
    private, key = register(alice)
    organisation_keys.rotate_organisation_key(
        acting_user=alice,
        key=key,
        new_public_key=signing.generate_keypair()[1].hex(),
        second_factor=True,
    )
    response = post(client, token_for(publisher), submission(publisher.organisation, private))
    assert_refused(response, "outside its validity window")


def test_a_key_of_another_organisation_is_refused(client, charlie, publisher, token_for):
    private, key = register(charlie)
    body = submission(publisher.organisation, private)
    response = post(client, token_for(publisher), body)
    assert_refused(response, f"key {key.key_id} is a key of another organisation")


def test_the_portal_held_key_is_refused(client, publisher, token_for):
    portal_held = SigningKey.objects.get(owner=publisher.organisation.stix_identity_id)
    private, _ = signing.generate_keypair()
    body = submission(publisher.organisation, private)
    body["signatures"]["key_id"] = portal_held.key_id
    response = post(client, token_for(publisher), body)
    assert_refused(response, "is portal-held")


def test_a_signature_for_another_organisation_is_refused(
    client, alice, charlie, publisher, token_for
):
    private, _ = register(alice)
    body = submission(publisher.organisation, private, signer=charlie.organisation)
    response = post(client, token_for(publisher), body)
    assert_refused(response, f"signed for {charlie.organisation.stix_identity_id}")


def test_an_object_changed_after_signing_is_refused(client, alice, publisher, token_for):
    private, _ = register(alice)
    body = submission(publisher.organisation, private)
    body["bundle"]["objects"][1]["name"] = "changed afterwards"
    response = post(client, token_for(publisher), body)
    assert_refused(response, "the signature does not verify")


def test_a_missing_object_signature_is_refused(client, alice, publisher, token_for):
    private, _ = register(alice)
    body = submission(publisher.organisation, private)
    missing = body["signatures"]["objects"].pop()
    response = post(client, token_for(publisher), body)
    assert_refused(response, f"{missing['subject']} has no signature")


def test_a_signature_of_an_object_not_in_the_bundle_is_refused(client, alice, publisher, token_for):
    private, _ = register(alice)
    body = submission(publisher.organisation, private)
    extra = copy.deepcopy(body["signatures"]["objects"][0])
    extra["subject"] = "indicator--00000000-0000-4000-8000-000000000000@x"
    body["signatures"]["objects"].append(extra)
    response = post(client, token_for(publisher), body)
    assert_refused(response, "is signed but not in the bundle")


def test_created_by_ref_must_be_the_publishers_identity(client, alice, publisher, token_for):
    private, _ = register(alice)
    objects = own_objects(publisher.organisation)
    del objects[0]["created_by_ref"]
    body = submission(publisher.organisation, private, objects=objects)
    response = post(client, token_for(publisher), body)
    assert_refused(response, "created_by_ref must be your organisation's identity")


def test_the_tlp_marking_must_travel_with_signed_objects(client, alice, publisher, token_for):
    private, _ = register(alice)
    objects = own_objects(publisher.organisation, tlp="green")
    body = submission(publisher.organisation, private, objects=objects, tlp="green")
    body["tlp"] = "amber"
    response = post(client, token_for(publisher), body)
    assert_refused(response, "must hold the publication's TLP marking")


def test_a_malformed_signatures_document_is_refused(client, publisher, token_for):
    body = {
        "bundle": stix_samples.bundle(*own_objects(publisher.organisation)),
        "signatures": {"format": "something"},
        "distribution": "organisation",
        "tlp": "amber",
    }
    response = post(client, token_for(publisher), body)
    assert_refused(response, '"format": "cti-portal-signatures"')


def test_a_reader_cannot_publish_a_signed_submission(client, alice, bob, token_for):
    private, _ = register(alice)
    response = post(client, token_for(bob), submission(bob.organisation, private))
    assert response.status_code == 403
    assert Publication.objects.count() == 0


def test_the_integrity_panel_shows_the_custody_of_the_key(client, alice, publisher, token_for):
    private, key = register(alice)
    post(client, token_for(publisher), submission(publisher.organisation, private))
    pipeline.seal_received()
    client.force_login(publisher)
    publication = Publication.objects.get()
    page = client.get(f"/publications/{publication.pk}/").content.decode()
    assert f'<code>{key.key_id}</code> <span class="badge custody">organisation-held</span>' in page
