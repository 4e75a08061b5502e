"""MISP import: an event with attributes, objects and galaxies becomes a draft of STIX 2.1
objects (converted by misp-stix), reviewed, then published with the portal's provenance."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sharing.models import Draft, DraftObject, Publication

pytestmark = pytest.mark.django_db

EVENT = Path(__file__).resolve().parent.parent / "fixtures" / "misp_event.json"


def upload(client, content: bytes):
    return client.post(
        "/drafts/import/misp/", {"event_file": SimpleUploadedFile("event.json", content)}
    )


def test_a_misp_event_opens_as_a_draft_and_publishes_with_the_portals_provenance(client, publisher):
    client.force_login(publisher)
    response = upload(client, EVENT.read_bytes())
    draft = Draft.objects.get()
    assert response["Location"] == f"/drafts/{draft.id}/"
    assert draft.title == "MISP: Phishing wave against substation operators"
    assert draft.source == "misp"
    bodies = [item.body for item in draft.items.all()]
    by_type: dict[str, list[dict]] = {}
    for body in bodies:
        by_type.setdefault(body["type"], []).append(body)

    # Attributes and objects become indicators with patterns, galaxies become SDOs.
    patterns = {indicator["pattern"] for indicator in by_type["indicator"]}
    assert "[domain-name:value = 'update-scada.example']" in patterns
    assert any("4bb7e2a0e9a1c8f8" in pattern for pattern in patterns)  # the file object
    assert [actor["name"] for actor in by_type["threat-actor"]] == ["VOLTAGE SPIDER"]
    assert by_type["attack-pattern"][0]["external_references"][0]["external_id"] == "T1566.001"
    assert by_type["report"][0]["name"] == "Phishing wave against substation operators"
    assert by_type["relationship"]
    # What the portal decides itself is not taken from MISP.
    assert "identity" not in by_type and "marking-definition" not in by_type
    assert not any("created_by_ref" in body for body in bodies)

    page = client.get(f"/drafts/{draft.id}/")
    assert "VOLTAGE SPIDER" in page.content.decode()

    published = client.post(
        f"/drafts/{draft.id}/publish/", {"distribution": "organisation", "tlp": "green"}
    )
    assert published.status_code == 302, published.content.decode()[-2000:]
    publication = Publication.objects.get()
    assert publication.items.count() == len(bodies)
    actor = publication.items.get(stix_type="threat-actor").body
    assert actor["created_by_ref"] == publisher.organisation.stix_identity_id


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"type": "bundle", "objects": []}).encode(), "expected a MISP event"),
        (json.dumps({"Event": {"info": "empty"}}).encode(), "holds nothing to convert"),
        (
            json.dumps(
                {
                    "Event": {
                        "info": "x",
                        "Galaxy": [
                            {
                                "name": "Threat Actor",
                                "type": "threat-actor",
                                "GalaxyCluster": [{"type": "threat-actor", "value": "v"}],
                            }
                        ],
                    }
                }
            ).encode(),
            "lacks a field the conversion needs",
        ),
    ],
)
def test_what_is_not_a_misp_event_is_refused_and_nothing_is_stored(
    client, publisher, content, message
):
    client.force_login(publisher)
    response = upload(client, content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Draft.objects.exists() and not DraftObject.objects.exists()


def test_a_misp_event_over_the_size_limit_is_refused(client, settings, publisher):
    settings.PUBLISH_MAX_BYTES = 100
    client.force_login(publisher)
    response = upload(client, EVENT.read_bytes())
    assert response.status_code == 400
    assert "the limit is 100" in response.content.decode()
    assert not Draft.objects.exists()


def test_a_reader_cannot_import(client, bob):
    client.force_login(bob)
    assert upload(client, EVENT.read_bytes()).status_code == 403
    assert not Draft.objects.exists()
