"""Writing threat intelligence in the portal: drafts, object forms, the pattern check, and who
may see a draft. pat publishes for Nordgrid, bob reads there, charlie is another organisation's
admin."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from sharing import object_forms, stix
from sharing.models import Draft, DraftObject, Publication, PublishedObject
from sharing.services import drafts
from tests import stix_samples

pytestmark = pytest.mark.django_db

AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_draft(client: Client, title: str = "Substation campaign") -> Draft:
    response = client.post("/drafts/", {"title": title})
    assert response.status_code == 302, response.content[:500]
    return Draft.objects.get(title=title)


def add(client: Client, draft: Draft, stix_type: str, **fields) -> DraftObject:
    before = set(draft.items.values_list("id", flat=True))
    response = client.post(f"/drafts/{draft.id}/objects/new/{stix_type}/", fields)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return draft.items.exclude(id__in=before).get()


INDICATOR = {
    "name": "C2 of the substation campaign",
    "pattern_type": "stix",
    "pattern": "[ipv4-addr:value = '203.0.113.7']",
    "valid_from": "2026-11-20T08:30:00",
    "indicator_types": ["malicious-activity"],
    "kill_chain_phases": "mitre-ics-attack: command-and-control",
    "confidence": "80",
}


def test_a_publisher_writes_objects_through_the_forms_and_publishes_them(
    publisher, trust_group, django_capture_on_commit_callbacks
):
    client = client_for(publisher)
    draft = new_draft(client)
    indicator = add(client, draft, "indicator", **INDICATOR)
    malware = add(
        client,
        draft,
        "malware",
        name="GridWiper",
        is_family="on",
        malware_types=["wiper"],
        malware_types_other="ics-implant",
        external_references="vendor | GW-1 | https://vendor.example/gw",
    )
    relationship = add(
        client,
        draft,
        "relationship",
        source_ref=indicator.stix_id,
        relationship_type="indicates",
        target_ref=malware.stix_id,
    )

    assert indicator.body["pattern"] == INDICATOR["pattern"]
    assert indicator.body["indicator_types"] == ["malicious-activity"]
    assert indicator.body["kill_chain_phases"] == [
        {"kill_chain_name": "mitre-ics-attack", "phase_name": "command-and-control"}
    ]
    assert indicator.body["confidence"] == 80
    assert indicator.body["valid_from"] == "2026-11-20T08:30:00.000Z"
    assert malware.body["malware_types"] == ["wiper", "ics-implant"]  # free text allowed
    assert malware.body["is_family"] is True
    assert malware.body["external_references"] == [
        {"source_name": "vendor", "external_id": "GW-1", "url": "https://vendor.example/gw"}
    ]
    assert relationship.body["source_ref"] == indicator.stix_id

    page = client.get(f"/drafts/{draft.id}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "GridWiper" in content and 'id="draft-graph"' in content
    graph = page.context["graph"]
    assert graph["edges"] == [
        {
            "id": relationship.stix_id,
            "source": indicator.stix_id,
            "target": malware.stix_id,
            "label": "indicates",
        }
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/drafts/{draft.id}/publish/",
            {"distribution": "trust_groups", "trust_groups": [trust_group.id], "tlp": "amber"},
        )
    assert response.status_code == 302, response.content.decode()[-2000:]
    publication = Publication.objects.get()
    assert response["Location"] == f"/publications/{publication.id}/"
    assert len(callbacks) == 1  # sealing starts on commit, as for any publication
    assert not Draft.objects.exists()
    bodies = {item.stix_id: item.body for item in publication.items.all()}
    assert set(bodies) == {indicator.stix_id, malware.stix_id, relationship.stix_id}
    for body in bodies.values():
        assert body["created_by_ref"] == publisher.organisation.stix_identity_id
        assert body["object_marking_refs"] == [AMBER]


def test_a_bad_pattern_is_shown_next_to_its_field_and_nothing_is_saved(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    response = client.post(
        f"/drafts/{draft.id}/objects/new/indicator/",
        {**INDICATOR, "pattern": "[ipv4-addr:value = "},
    )
    assert response.status_code == 400
    field = response.context["form"]["pattern"]
    assert field.errors and "column" in field.errors[0]
    assert "field-pattern has-error" in response.content.decode()
    assert not DraftObject.objects.exists()


def test_a_pattern_on_an_unknown_observable_type_is_refused_in_the_form(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    response = client.post(
        f"/drafts/{draft.id}/objects/new/indicator/", {**INDICATOR, "pattern": "[x:value = 'a']"}
    )
    assert response.status_code == 400
    assert "unknown object type(s): x" in response.context["form"]["pattern"].errors[0]
    assert not DraftObject.objects.exists()


def test_required_fields_are_enforced(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    response = client.post(f"/drafts/{draft.id}/objects/new/malware/", {"description": "x"})
    assert response.status_code == 400
    assert response.context["form"]["name"].errors == ["This field is required."]
    response = client.post(f"/drafts/{draft.id}/objects/new/location/", {"name": "Somewhere"})
    assert response.status_code == 400
    assert "needs a region, a country" in response.content.decode()
    assert not DraftObject.objects.exists()


def test_cve_and_attack_ids_become_external_references(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    vulnerability = add(client, draft, "vulnerability", name="PAN-OS flaw", cve="cve-2024-3400")
    technique = add(
        client,
        draft,
        "attack-pattern",
        name="Spearphishing attachment",
        attack_technique="T1566.001",
        attack_domain="enterprise",
    )
    ics = add(client, draft, "attack-pattern", name="Modify parameter", attack_technique="T0836")
    assert vulnerability.body["external_references"] == [
        {"source_name": "cve", "external_id": "CVE-2024-3400"}
    ]
    assert technique.body["external_references"] == [
        {
            "source_name": "mitre-attack",
            "external_id": "T1566.001",
            "url": "https://attack.mitre.org/techniques/T1566/001",
        }
    ]
    assert ics.body["external_references"][0]["source_name"] == "mitre-attack"
    response = client.post(
        f"/drafts/{draft.id}/objects/new/vulnerability/", {"name": "x", "cve": "2024-1"}
    )
    assert response.status_code == 400
    assert response.context["form"]["cve"].errors == ["A CVE id looks like CVE-2024-3400."]


def test_every_type_has_a_form_that_builds_a_valid_object(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    target = add(client, draft, "malware", name="GridWiper", is_family="on")
    identity = add(
        client, draft, "identity", name="Energy sector", identity_class="class", sectors="energy"
    )
    fields = {
        "indicator": INDICATOR,
        "threat-actor": {"name": "VOLTAGE SPIDER", "threat_actor_types": ["nation-state"]},
        "intrusion-set": {"name": "Grid Wraith", "resource_level": "government"},
        "campaign": {"name": "Winter blackout", "first_seen": "2026-01-01T00:00:00"},
        "infrastructure": {"name": "C2 cluster", "infrastructure_types": ["command-and-control"]},
        "tool": {"name": "Mimikatz", "tool_types": ["credential-exploitation"]},
        "course-of-action": {"name": "Block the C2 range"},
        "location": {"name": "Bavaria", "country": "DE"},
        "note": {"content": "Seen at two DSOs.", "object_refs": [target.stix_id]},
        "report": {
            "name": "Weekly report",
            "published": "2026-11-20T00:00:00",
            "object_refs": [target.stix_id],
        },
        "sighting": {
            "sighting_of_ref": target.stix_id,
            "where_sighted_refs": [identity.stix_id],
            "count": "3",
        },
        "attack-pattern": {
            "name": "Spearphishing",
            "kill_chain_phases": "mitre-attack: initial-access",
        },
        "vulnerability": {"name": "PAN-OS flaw", "cve": "CVE-2024-3400"},
        "relationship": {
            "source_ref": identity.stix_id,
            "relationship_type": "located-at",
            "target_ref": target.stix_id,
        },
    }
    for stix_type, values in fields.items():
        item = add(client, draft, stix_type, **values)
        assert item.body["type"] == stix_type
    assert {item.stix_type for item in draft.items.all()} == set(object_forms.OBJECT_FIELDS)
    drafts.check_objects([item.body for item in draft.items.all()])  # valid as one bundle


def test_editing_a_draft_object_keeps_its_id_and_advances_modified(publisher):
    draft = drafts.create_draft(acting_user=publisher, title="d")
    data = {"name": "GridWiper", "is_family": True, "description": "first"}
    first = drafts.save_object(
        acting_user=publisher,
        draft=draft,
        stix_type="malware",
        data=data,
        now=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
    )
    created = first.body["created"]
    edited = drafts.save_object(
        acting_user=publisher,
        draft=draft,
        stix_type="malware",
        data={**data, "description": "second"},
        draft_object=first,
        now=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    assert edited.pk == first.pk
    assert edited.body["id"] == first.body["id"]
    assert edited.body["created"] == created == "2026-11-20T08:00:00.000Z"
    assert edited.body["modified"] == "2026-11-20T09:00:00.000Z"
    assert edited.body["description"] == "second"


def test_the_pattern_check_answers_with_the_message_and_the_column(publisher):
    client = client_for(publisher)
    good = client.get("/authoring/pattern-check/", {"pattern": "[domain-name:value = 'a.example']"})
    assert good.json() == {"ok": True, "message": "", "column": None}
    bad = client.get("/authoring/pattern-check/", {"pattern": "[ipv4-addr:value = "}).json()
    assert bad["ok"] is False
    assert bad["column"] == 19
    assert "line 1:19" in bad["message"]


def test_drafts_are_private_to_the_organisations_authors(publisher, bob, charlie, alice):
    draft = drafts.create_draft(
        acting_user=publisher, title="Ours", objects=[stix_samples.indicator()]
    )
    item = draft.items.get()
    outsider, reader = client_for(charlie), client_for(bob)
    urls = [
        f"/drafts/{draft.id}/",
        f"/drafts/{draft.id}/objects/{item.id}/",
        f"/drafts/{draft.id}/objects/new/malware/",
    ]
    for url in urls:
        assert outsider.get(url).status_code == 404
        assert reader.get(url).status_code == 403
        assert client_for(alice).get(url).status_code == 200
    for url in [
        f"/drafts/{draft.id}/publish/",
        f"/drafts/{draft.id}/delete/",
        f"/drafts/{draft.id}/objects/{item.id}/delete/",
    ]:
        assert (
            outsider.post(url, {"distribution": "organisation", "tlp": "amber"}).status_code == 404
        )
    assert "Ours" not in outsider.get("/drafts/").content.decode()
    assert Draft.objects.get().items.count() == 1
    assert not Publication.objects.exists()


def test_a_draft_is_kept_across_logins(publisher):
    client = client_for(publisher)
    draft = new_draft(client)
    add(client, draft, "malware", name="GridWiper", is_family="on")
    client.logout()
    client.force_login(publisher)
    assert "GridWiper" in client.get(f"/drafts/{draft.id}/").content.decode()


def test_the_drafts_list_costs_the_same_queries_for_many_drafts(
    publisher, django_assert_num_queries
):
    client = client_for(publisher)
    drafts.create_draft(acting_user=publisher, title="First")
    client.get("/drafts/")  # warm: the session's first request loads more
    for number in range(5):
        drafts.create_draft(acting_user=publisher, title=f"Draft {number}")
    with django_assert_num_queries(
        11
    ):  # session, user, MFA, unread count, the page: none per draft
        response = client.get("/drafts/")
    assert response.status_code == 200
    assert response.content.decode().count("/drafts/") >= 5


def test_the_bundle_preview_shows_what_will_be_published(publisher):
    obj = stix_samples.indicator(name="<b>bold</b>")
    draft = drafts.create_draft(acting_user=publisher, title="d", objects=[obj])
    content = client_for(publisher).get(f"/drafts/{draft.id}/").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;" in content
    assert "<b>bold</b>" not in content
    preview = content.split('<pre class="mono">')[1].split("</pre>")[0]
    assert obj["id"] in preview and "&quot;type&quot;: &quot;bundle&quot;" in preview


def test_limits_name_every_oversized_field():
    limits = stix.Limits(name_chars=5, string_chars=10, text_chars=20, objects=2)
    obj = {
        "id": "malware--x",
        "name": "n" * 6,
        "description": "d" * 21,
        "external_references": [{"source_name": "s" * 11}],
    }
    assert stix.limit_errors([obj], limits) == [
        "malware--x: name is 6 characters long; the limit for names and labels is 5",
        "malware--x: description is 21 characters long; the limit for descriptions and other "
        "text is 20",
        "malware--x: external_references[0].source_name is 11 characters long; the limit for "
        "short strings is 10",
    ]
    assert stix.limit_errors([{}, {}, {}], limits) == ["the bundle has 3 objects; the limit is 2"]
    assert PublishedObject.objects.count() == 0
