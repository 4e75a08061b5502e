"""Adding objects through TAXII: the publishing service's validation and TLP rules, the
status resource, deleting, and the media-type errors."""

import json
import uuid

import pytest

from ledger.models import Entry
from portal.audit.models import AuditEvent
from portal.models import TokenScope
from sharing.models import Publication, PublishedObject
from sharing.taxii.models import TaxiiStatus
from tests import stix_samples
from tests.taxii.conftest import T0, TAXII, collection_url, deliver

pytestmark = pytest.mark.django_db

AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


def objects_url(user, alias="community") -> str:
    return collection_url(user.organisation, alias) + "objects/"


def assert_nothing_published():
    assert Publication.objects.count() == 0
    assert PublishedObject.objects.count() == 0
    assert Entry.objects.filter(key_event__isnull=True).count() == 0  # key events are not items


def test_an_envelope_becomes_a_publication_to_the_collections_audience(
    taxii_as, publisher, trust_group, django_capture_on_commit_callbacks
):
    indicator = stix_samples.indicator()
    url = objects_url(publisher, f"trust-group-{trust_group.pk}")
    with django_capture_on_commit_callbacks() as callbacks:
        response = taxii_as(publisher).post(url, {"objects": [indicator]})
    assert response.status_code == 202, response.content
    assert response["Content-Type"] == TAXII
    status = response.json()
    assert status["status"] == "pending"
    assert (status["total_count"], status["pending_count"], status["success_count"]) == (1, 1, 0)
    assert status["pendings"] == [
        {
            "id": indicator["id"],
            "version": indicator["modified"],
            "message": "received, waiting to be sealed",
        }
    ]
    publication = Publication.objects.get()
    assert publication.distribution == "trust_groups"
    assert list(publication.trust_groups.all()) == [trust_group]
    assert publication.tlp == "amber"  # unmarked: TAXII_DEFAULT_TLP
    assert [o.body for o in publication.items.all()] == [delivered(indicator)]
    assert publication.items.get().body["created_by_ref"] == publisher.organisation.stix_identity_id
    assert AuditEvent.objects.filter(action="publication_created").count() == 1
    assert len(callbacks) == 1  # the seal task, on commit


@pytest.mark.parametrize(
    ("alias", "distribution"), [("community", "community"), ("organisation", "organisation")]
)
def test_each_collection_publishes_to_its_own_distribution(
    taxii_as, publisher, alias, distribution
):
    response = taxii_as(publisher).post(
        objects_url(publisher, alias), {"objects": [stix_samples.indicator()]}
    )
    assert response.status_code == 202
    assert Publication.objects.get().distribution == distribution


def test_the_publications_tlp_is_the_most_restrictive_marking(taxii_as, publisher):
    marked = stix_samples.indicator(object_marking_refs=[RED])
    other = stix_samples.indicator(object_marking_refs=[AMBER])
    response = taxii_as(publisher).post(
        objects_url(publisher, "organisation"), {"objects": [other, marked]}
    )
    assert response.status_code == 202
    assert Publication.objects.get().tlp == "red"


def test_tlp_red_cannot_go_to_the_community(taxii_as, publisher):
    marked = stix_samples.indicator(object_marking_refs=[RED])
    response = taxii_as(publisher).post(objects_url(publisher), {"objects": [marked]})
    assert response.status_code == 202
    status = response.json()
    assert status["status"] == "complete"
    assert status["failure_count"] == 1 and status["success_count"] == 0
    assert status["failures"][0]["id"] == marked["id"]
    assert (
        "TLP:RED cannot be distributed to the whole community" in status["failures"][0]["message"]
    )
    assert_nothing_published()


def test_an_invalid_object_fails_the_envelope_with_each_reason(taxii_as, publisher):
    good = stix_samples.indicator()
    bad = stix_samples.indicator(pattern="[ipv4-addr:value = '203.0.113.7'")
    response = taxii_as(publisher).post(objects_url(publisher), {"objects": [good, bad]})
    status = response.json()
    assert status["failure_count"] == 2
    failures = {f["id"]: f["message"] for f in status["failures"]}
    assert "pattern" in failures[bad["id"]].lower()
    assert "pattern" in failures[good["id"]].lower()  # no error names it: the envelope's reasons
    assert_nothing_published()
    # The refusal can be read back, like any status.
    again = taxii_as(publisher).get(f"/taxii2/api/status/{status['id']}/").json()
    assert again == status


def test_the_status_follows_the_pipeline(taxii_as, publisher):
    response = taxii_as(publisher).post(
        objects_url(publisher), {"objects": [stix_samples.indicator()]}
    )
    status_url = f"/taxii2/api/status/{response.json()['id']}"  # as the OASIS client asks
    publication = Publication.objects.get()
    deliver(publication, at=T0)
    status = taxii_as(publisher).get(status_url).json()
    assert status["status"] == "complete"
    assert (status["success_count"], status["pending_count"], status["failure_count"]) == (1, 0, 0)


def test_another_organisations_status_is_not_found(taxii_as, publisher, charlie):
    response = taxii_as(publisher).post(
        objects_url(publisher), {"objects": [stix_samples.indicator()]}
    )
    url = f"/taxii2/api/status/{response.json()['id']}/"
    assert taxii_as(charlie).get(url).status_code == 404
    assert taxii_as(charlie).get(f"/taxii2/api/status/{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize(
    ("who", "scope"), [("bob", TokenScope.READ), ("publisher", TokenScope.READ)]
)
def test_readers_and_read_tokens_cannot_write(request, taxii_as, who, scope):
    user = request.getfixturevalue(who)
    response = taxii_as(user, scope=scope).post(
        objects_url(user), {"objects": [stix_samples.indicator()]}
    )
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"
    assert_nothing_published()
    assert TaxiiStatus.objects.count() == 0


def test_writing_to_another_organisations_collection_is_not_found(taxii_as, publisher, charlie):
    url = objects_url(publisher, "organisation")
    response = taxii_as(charlie).post(url, {"objects": [stix_samples.indicator()]})
    assert response.status_code == 404
    assert_nothing_published()


# --- Media types and malformed requests ----------------------------------------------------


@pytest.mark.parametrize(
    "accept", ["application/json", "application/taxii+json;version=2.0", "text/html"]
)
def test_an_unacceptable_accept_header_is_406(taxii_as, bob, accept):
    response = taxii_as(bob).get("/taxii2/api/", Accept=accept)
    assert response.status_code == 406
    assert response["Content-Type"] == TAXII
    assert response.json() == {
        "title": "Not acceptable",
        "http_status": "406",
        "description": f"This server answers only in {TAXII}; set Accept to it.",
    }


@pytest.mark.parametrize(
    "accept", ["application/taxii+json", "*/*", "application/taxii+json; version=2.1"]
)
def test_equivalent_accept_headers_are_served(taxii_as, bob, accept):
    assert taxii_as(bob).get("/taxii2/api/", Accept=accept).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/stix+json;version=2.1", "application/taxii+json;version=2.0"],
)
def test_a_body_of_another_media_type_is_415(taxii_as, publisher, content_type):
    response = taxii_as(publisher).post(
        objects_url(publisher), {"objects": [stix_samples.indicator()]}, content_type=content_type
    )
    assert response.status_code == 415
    assert response.json()["http_status"] == "415"
    assert_nothing_published()


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b'{"objects": [', "Invalid JSON"),
        (b'{"objects": []}', "Invalid envelope"),
        (b'[{"type": "indicator"}]', "Invalid envelope"),
    ],
)
def test_a_malformed_envelope_is_400(taxii_as, publisher, body, title):
    response = taxii_as(publisher).post(objects_url(publisher), body)
    assert response.status_code == 400
    assert response.json()["title"] == title
    assert_nothing_published()
    assert TaxiiStatus.objects.count() == 0


def test_a_body_over_the_limit_is_413(taxii_as, publisher, settings):
    settings.PUBLISH_MAX_BYTES = 100
    envelope = json.dumps({"objects": [stix_samples.indicator()]}).encode()
    response = taxii_as(publisher).post(objects_url(publisher), envelope)
    assert response.status_code == 413
    assert_nothing_published()


# --- Delete ---------------------------------------------------------------------------------


@pytest.fixture
def published(shared, publisher, charlie):
    v1 = stix_samples.indicator()
    v2 = {**v1, "modified": "2026-11-21T08:30:00.000Z"}
    shared(publisher, v1, minutes=0)
    shared(publisher, v2, minutes=1)
    return v1, v2


def test_the_publisher_deletes_one_version(published, taxii_as, publisher, charlie):
    v1, v2 = published
    url = objects_url(publisher) + f"{v1['id']}/"
    response = taxii_as(publisher).delete(url + f"?match[version]={v2['modified']}")
    assert response.status_code == 200
    # The earlier version is now the last one.
    served = taxii_as(charlie).get(objects_url(charlie) + f"{v1['id']}/").json()["objects"]
    assert served == [delivered(v1)]
    event = AuditEvent.objects.get(action="taxii_objects_deleted")
    assert event.detail == {"objects": [f"{v1['id']}@{v2['modified']}"]}
    assert PublishedObject.objects.count() == 2  # the ledger keeps both


def test_deleting_without_a_version_deletes_every_version(published, taxii_as, publisher, charlie):
    v1, _ = published
    assert taxii_as(publisher).delete(objects_url(publisher) + f"{v1['id']}/").status_code == 200
    assert taxii_as(charlie).get(objects_url(charlie) + f"{v1['id']}/").status_code == 404


def test_only_the_publishing_organisation_deletes(published, taxii_as, charlie, token_for, bob):
    from portal.models import Role
    from tests.conftest import _member

    v1, _ = published
    other_publisher = _member(charlie.organisation, "pia@elsewhere.example", Role.PUBLISHER)
    response = taxii_as(other_publisher).delete(objects_url(other_publisher) + f"{v1['id']}/")
    assert response.status_code == 403
    assert "Only the organisation that published" in response.json()["description"]
    assert taxii_as(bob).delete(objects_url(bob) + f"{v1['id']}/").status_code == 403
    assert len(taxii_as(charlie).get(objects_url(charlie) + f"{v1['id']}/").json()["objects"]) == 1
    assert not AuditEvent.objects.filter(action="taxii_objects_deleted").exists()


def test_deleting_an_unknown_object_is_not_found(published, taxii_as, publisher):
    response = taxii_as(publisher).delete(objects_url(publisher) + "indicator--nope/")
    assert response.status_code == 404


def delivered(obj: dict) -> dict:
    """The object as the portal stored and serves it: with its publisher's `created_by_ref`
    and the publication's TLP marking (sharing.services.provenance)."""
    from sharing.models import PublishedObject
    from sharing.stix import object_version

    return PublishedObject.objects.get(stix_id=obj["id"], version=object_version(obj)).body
