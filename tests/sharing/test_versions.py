"""Versions, revocation and provenance, and the refusals that keep them honest, through the
draft form, the upload page and the API alike. pat publishes for Nordgrid; ada is Alpine's
admin (in Nordgrid's trust group); a publisher of Alpine owns objects Nordgrid must not touch."""

import json
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.models import Role
from sharing import history
from sharing.models import Delivery, Draft, ObjectLineage, Publication, PublishedObject
from sharing.services import drafts, publishing
from tests import stix_samples
from tests.conftest import _member

pytestmark = pytest.mark.django_db

LATER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def publish(user, *objects, **options):
    options = {"distribution": "organisation", "tlp": "amber", **options}
    return publishing.publish_bundle(
        acting_user=user, bundle=stix_samples.bundle(*objects), **options
    )


def malware(**fields):
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": fields.pop("id", "malware--0b5a3f5e-8a2c-4c1e-9d3f-2f6a7b8c9d0e"),
        "created": stix_samples.TIMESTAMP,
        "modified": stix_samples.TIMESTAMP,
        "name": "GridWiper",
        "is_family": True,
        **fields,
    }


@pytest.fixture
def alpine_publisher(alpine):
    return _member(alpine, "pia@alpine.example", Role.PUBLISHER)


# --- Versions ------------------------------------------------------------------------------


def test_a_new_version_reaches_the_recipients_of_the_original(publisher, trust_group):
    original = publish(
        publisher, malware(), distribution="trust_groups", trust_group_ids=[trust_group.id]
    )
    lineage = ObjectLineage.objects.get()
    assert lineage.organisation == publisher.organisation
    assert lineage.original_publication == original

    draft = drafts.start_new_version(acting_user=publisher, lineage=lineage)
    item = draft.items.get()
    drafts.save_object(
        acting_user=publisher,
        draft=draft,
        stix_type="malware",
        data={"name": "GridWiper", "is_family": True, "description": "Now wipes RTUs too."},
        draft_object=item,
        now=LATER,
    )
    version = drafts.publish_draft(acting_user=publisher, draft=draft)

    assert version.distribution == "trust_groups"
    assert list(version.trust_groups.all()) == [trust_group]
    assert version.tlp == "amber"
    body = version.items.get().body
    assert body["id"] == malware()["id"]
    assert body["created"] == stix_samples.TIMESTAMP
    assert body["modified"] == "2026-12-01T09:00:00.000Z"
    assert body["description"] == "Now wipes RTUs too."
    lineage.refresh_from_db()
    assert lineage.latest_version == "2026-12-01T09:00:00.000Z"
    assert PublishedObject.objects.filter(stix_id=body["id"]).count() == 2


def test_revoking_publishes_revoked_true_and_ends_the_lineage(publisher, trust_group):
    publish(publisher, malware(), distribution="trust_groups", trust_group_ids=[trust_group.id])
    lineage = ObjectLineage.objects.get()
    revocation = drafts.revoke(acting_user=publisher, lineage=lineage, now=LATER)
    assert revocation.title == "Revoked: GridWiper"
    assert list(revocation.trust_groups.all()) == [trust_group]
    body = revocation.items.get().body
    assert body["revoked"] is True and body["modified"] == "2026-12-01T09:00:00.000Z"
    lineage.refresh_from_db()
    assert lineage.revoked

    with pytest.raises(publishing.BundleError, match="is revoked"):
        drafts.start_new_version(acting_user=publisher, lineage=lineage)
    with pytest.raises(publishing.BundleError, match="is revoked"):
        publish(publisher, malware(modified="2026-12-02T00:00:00.000Z"))


def test_an_older_version_than_the_latest_is_refused(publisher):
    publish(publisher, malware(modified="2026-11-25T00:00:00.000Z"))
    with pytest.raises(publishing.BundleError, match="not later than the latest"):
        publish(publisher, malware(modified="2026-11-21T00:00:00.000Z"))
    assert Publication.objects.count() == 1


def test_the_inbox_marks_superseded_and_revoked_objects(
    client, publisher, trust_group, alpine_admin, django_assert_num_queries
):
    first = publish(
        publisher, malware(), distribution="trust_groups", trust_group_ids=[trust_group.id]
    )
    second = publish(
        publisher,
        malware(modified="2026-11-25T00:00:00.000Z"),
        distribution="trust_groups",
        trust_group_ids=[trust_group.id],
    )
    for publication in (first, second):
        Delivery.objects.create(publication=publication, organisation=alpine_admin.organisation)
    client.force_login(alpine_admin)
    client.get("/inbox/")
    with django_assert_num_queries(14):  # two for the marks, whatever the page size
        response = client.get("/inbox/")
    marks = {d.publication_id: d.version_marks for d in response.context["page"].object_list}
    assert marks == {first.id: ["superseded"], second.id: []}

    items = history.mark_items(list(first.items.all()))
    assert [(i.version_mark, i.latest_version) for i in items] == [
        ("superseded", "2026-11-25T00:00:00.000Z")
    ]
    lineage = ObjectLineage.objects.get()
    revocation = drafts.revoke(acting_user=publisher, lineage=lineage, now=LATER)
    Delivery.objects.create(publication=revocation, organisation=alpine_admin.organisation)
    with django_assert_num_queries(14):
        response = client.get("/inbox/")
    marks = {d.publication_id: d.version_marks for d in response.context["page"].object_list}
    assert marks == {first.id: ["revoked"], second.id: ["revoked"], revocation.id: ["revoked"]}
    assert response.content.decode().count('class="badge version-revoked"') == 3


def test_the_publisher_sees_version_and_revoke_buttons_only_on_the_latest(client, publisher):
    publication = publish(publisher, malware())
    client.force_login(publisher)
    content = client.get(f"/publications/{publication.id}/").content.decode()
    assert f"/objects/{malware()['id']}/revoke/" in content
    publish(publisher, malware(modified="2026-11-25T00:00:00.000Z"))
    content = client.get(f"/publications/{publication.id}/").content.decode()
    assert "/revoke/" not in content
    assert "superseded by 2026-11-25T00:00:00.000Z" in content


def test_the_new_version_button_opens_the_object_form_in_a_version_draft(client, publisher):
    publish(publisher, malware())
    client.force_login(publisher)
    response = client.post(f"/objects/{malware()['id']}/new-version/")
    draft = Draft.objects.get()
    item = draft.items.get()
    assert response["Location"] == f"/drafts/{draft.id}/objects/{item.id}/"
    form = client.get(response["Location"])
    assert form.context["form"].initial["name"] == "GridWiper"


# --- Refusals: form, upload and API alike ---------------------------------------------------

CHANNELS = ["form", "upload", "api"]


def submit(channel: str, user, objects: list[dict], token_for) -> tuple[int, str]:
    """Publish `objects` as `user` through one channel; (status, response text)."""
    client = Client()
    if channel == "form":
        client.force_login(user)
        draft = drafts.create_draft(acting_user=user, title="d", objects=objects)
        response = client.post(
            f"/drafts/{draft.id}/publish/", {"distribution": "organisation", "tlp": "amber"}
        )
        return response.status_code, response.content.decode()
    bundle = json.dumps(stix_samples.bundle(*objects))
    if channel == "upload":
        client.force_login(user)
        response = client.post(
            "/publish/",
            {
                "bundle_file": SimpleUploadedFile("b.json", bundle.encode()),
                "distribution": "organisation",
                "tlp": "amber",
            },
        )
        return response.status_code, response.content.decode()
    response = client.post(
        "/api/publications/",
        data=json.dumps(
            {"bundle": json.loads(bundle), "distribution": "organisation", "tlp": "amber"}
        ),
        content_type="application/json",
        headers=token_for(user),
    )
    return response.status_code, json.dumps(response.json())


def snapshot() -> tuple:
    return (
        Publication.objects.count(),
        PublishedObject.objects.count(),
        list(ObjectLineage.objects.values_list("stix_id", "latest_version", "revoked")),
    )


def refused(channel, user, objects, token_for, message):
    before = snapshot()
    status, text = submit(channel, user, objects, token_for)
    assert 400 <= status < 500, (status, text[-2000:])
    assert message in text, text[-3000:]
    assert snapshot() == before


@pytest.mark.parametrize("channel", CHANNELS)
def test_another_organisations_object_id_is_refused(
    channel, publisher, alpine_publisher, token_for
):
    publish(alpine_publisher, malware())
    later = malware(modified="2026-11-25T00:00:00.000Z", name="Hijacked")
    refused(channel, publisher, [later], token_for, "was created by another organisation")


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_foreign_created_by_ref_is_refused(channel, publisher, alpine, token_for):
    forged = stix_samples.indicator(created_by_ref=alpine.stix_identity_id)
    refused(
        channel,
        publisher,
        [forged],
        token_for,
        "not your organisation&#x27;s identity"
        if channel != "api"
        else "not your organisation's identity",
    )


@pytest.mark.parametrize("channel", CHANNELS)
def test_another_organisations_identity_cannot_be_published(channel, publisher, alpine, token_for):
    impostor = {
        "type": "identity",
        "spec_version": "2.1",
        "id": alpine.stix_identity_id,
        "created": stix_samples.TIMESTAMP,
        "modified": stix_samples.TIMESTAMP,
        "name": "Alpine Energy CSIRT (not really)",
        "identity_class": "organization",
    }
    refused(channel, publisher, [impostor], token_for, "is the identity of another organisation")


def test_observables_carry_the_marking_but_no_creator(publisher):
    observable = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
    }
    publication = publish(publisher, observable, stix_samples.indicator())
    body = publication.items.get(stix_type="ipv4-addr").body
    assert body["object_marking_refs"] == [
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    ]
    assert "created_by_ref" not in body
    assert not ObjectLineage.objects.filter(stix_id=observable["id"]).exists()
    # Everyone may publish the same observable: its id comes from its value.
    publish(publisher, observable, stix_samples.indicator())


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_duplicate_version_is_refused_not_sealed_twice(channel, publisher, token_for):
    publish(publisher, malware())
    refused(channel, publisher, [malware()], token_for, "is already published")


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_oversized_name_is_refused(channel, publisher, token_for):
    huge = stix_samples.indicator(name="x" * 200_000)
    refused(channel, publisher, [huge], token_for, "the limit for names and labels is 300")


@pytest.mark.parametrize("channel", CHANNELS)
def test_too_many_objects_are_refused(channel, settings, publisher, token_for):
    settings.PUBLISH_MAX_OBJECTS = 2
    objects = [stix_samples.indicator() for _ in range(3)]
    refused(channel, publisher, objects, token_for, "the bundle has 3 objects; the limit is 2")


def test_another_organisations_object_cannot_be_versioned_or_revoked_from_the_pages(
    client, publisher, alpine_publisher
):
    publish(alpine_publisher, malware())
    client.force_login(publisher)
    before = snapshot()
    for action in ("new-version", "revoke"):
        assert client.post(f"/objects/{malware()['id']}/{action}/").status_code == 404
    assert snapshot() == before
    assert not Draft.objects.exists()


def test_an_oversized_field_in_the_object_form_is_shown_next_to_it(client, publisher, settings):
    draft = drafts.create_draft(acting_user=publisher, title="d")
    client.force_login(publisher)
    response = client.post(
        f"/drafts/{draft.id}/objects/new/malware/",
        {"name": "x" * 200_000, "description": "d" * (settings.STIX_MAX_TEXT_CHARS + 1)},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "at most 300 characters" in form["name"].errors[0]
    assert f"at most {settings.STIX_MAX_TEXT_CHARS} characters" in form["description"].errors[0]
    assert not draft.items.exists()
