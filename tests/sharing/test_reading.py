"""Reading what was shared: object pages, relationships, versions, downloads and search.

pat publishes for Nordgrid to the trust group with Alpine (ada is Alpine's admin); charlie's
organisation is outside it and must get 404 everywhere.
"""

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from sharing.models import Delivery, ObservableValue, Publication
from tests import stix_samples
from tests.sharing.test_pipeline import publish

pytestmark = pytest.mark.django_db

T2 = "2026-11-21T09:00:00.000Z"
FAKE_RECEIPT = {
    "type": "cti-portal-receipt",
    "version": 1,
    "leaf": "ab" * 32,
    "signature": {"key_id": "ed25519:" + "cd" * 16},
    "log": {"leaf_index": 0, "tree_size": 1, "root": "ef" * 32},
    "anchor": {
        "chain_id": 31337,
        "contract": "0x" + "12" * 20,
        "transaction_hash": "0x" + "34" * 32,
        "block_number": 7,
    },
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def campaign_bundle(ip: str = "203.0.113.7", description: str = "Beacons every 60 s.\nPort 443."):
    indicator = stix_samples.indicator(
        pattern=f"[ipv4-addr:value = '{ip}']",
        name=f"C2 at {ip}",
        description=description,
        kill_chain_phases=[
            {"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}
        ],
    )
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": stix_samples.TIMESTAMP,
        "modified": stix_samples.TIMESTAMP,
        "name": "GridRAT",
        "is_family": True,
        "aliases": ["GRIDRAT", "SubstationSpy"],
        "external_references": [
            {
                "source_name": "mitre-attack",
                "external_id": "S9999",
                "url": "https://attack.mitre.org/software/S9999/",
            }
        ],
    }
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": stix_samples.TIMESTAMP,
        "modified": stix_samples.TIMESTAMP,
        "relationship_type": "indicates",
        "source_ref": indicator["id"],
        "target_ref": malware["id"],
    }
    return indicator, malware, relationship


def delivered(publisher, recipient_org, bundle_objects, **options) -> Publication:
    """A publication delivered to the publisher's and the recipient's organisation, with
    stand-in receipts (these pages only show what is stored)."""
    publication = publish(publisher, stix_samples.bundle(*bundle_objects), **options)
    publication.items.update(receipt=FAKE_RECEIPT)
    for organisation in {publisher.organisation, recipient_org}:
        Delivery.objects.create(publication=publication, organisation=organisation)
    return publication


@pytest.fixture
def shared(trust_group, publisher, alpine_admin):
    indicator, malware, relationship = campaign_bundle()
    publication = delivered(
        publisher, alpine_admin.organisation, [indicator, malware, relationship]
    )
    items = {obj.stix_type: obj for obj in publication.items.all()}
    return publication, items


# --- The object page ---------------------------------------------------------------------


def test_the_recipient_reads_every_property_of_an_indicator(shared, alpine_admin):
    _, items = shared
    response = client_for(alpine_admin).get(f"/objects/{items['indicator'].id}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>C2 at 203.0.113.7</h1>" in content
    assert "Beacons every 60 s.<br>Port 443." in content  # line breaks kept, as text
    assert "[ipv4-addr:value = &#x27;203.0.113.7&#x27;]" in content
    assert "command-and-control" in content and "Kill chain phases" in content
    assert "Download object + receipt (.zip)" in content
    assert FAKE_RECEIPT["anchor"]["transaction_hash"] in content


def test_relationships_are_links_both_ways(shared, alpine_admin):
    _, items = shared
    client = client_for(alpine_admin)
    indicator_page = client.get(f"/objects/{items['indicator'].id}/").content.decode()
    assert "<em>indicates</em>" in indicator_page
    assert f'<a href="/objects/{items["malware"].id}/">GridRAT</a>' in indicator_page

    malware_page = client.get(f"/objects/{items['malware'].id}/").content.decode()
    assert f'<a href="/objects/{items["indicator"].id}/">C2 at 203.0.113.7</a>' in malware_page
    assert "GRIDRAT" in malware_page and "SubstationSpy" in malware_page
    assert 'href="https://attack.mitre.org/software/S9999/"' in malware_page

    relationship_page = client.get(f"/objects/{items['relationship'].id}/").content.decode()
    assert f'href="/objects/{items["indicator"].id}/"' in relationship_page
    assert f'href="/objects/{items["malware"].id}/"' in relationship_page


def test_a_reference_to_an_object_not_shared_with_the_reader_is_shown_as_a_plain_id(
    trust_group, publisher, alpine_admin
):
    hidden = f"malware--{uuid.uuid4()}"
    indicator, _, relationship = campaign_bundle()
    relationship["target_ref"] = hidden
    publication = delivered(publisher, alpine_admin.organisation, [indicator, relationship])
    obj = publication.items.get(stix_type="relationship")
    content = client_for(alpine_admin).get(f"/objects/{obj.id}/").content.decode()
    assert f'<code title="not shared with your organisation">{hidden}</code>' in content


def test_the_version_history_lists_every_visible_version(
    trust_group, publisher, alpine_admin, charlie
):
    indicator, _, _ = campaign_bundle()
    first = delivered(publisher, alpine_admin.organisation, [indicator])
    newer = {**indicator, "modified": T2, "name": "C2 at 203.0.113.7 (moved)"}
    second = delivered(publisher, alpine_admin.organisation, [newer])
    # A third version kept inside Nordgrid: Alpine must not see it in the history.
    private = {**indicator, "modified": "2026-11-22T09:00:00.000Z", "name": "internal"}
    publish(publisher, stix_samples.bundle(private), distribution="organisation")

    old, new = first.items.get(), second.items.get()
    content = client_for(alpine_admin).get(f"/objects/{old.id}/").content.decode()
    assert f'<a href="/objects/{new.id}/">{T2}</a>' in content
    assert f"<strong>{stix_samples.TIMESTAMP}</strong> (this page)" in content
    assert "internal" not in content and "2026-11-22" not in content

    assert client_for(alpine_admin).get(f"/stix/{indicator['id']}/")["Location"] == (
        f"/objects/{new.id}/"
    )
    assert client_for(charlie).get(f"/stix/{indicator['id']}/").status_code == 404


def test_another_organisation_gets_not_found_on_objects_and_downloads(shared, charlie):
    publication, items = shared
    client = client_for(charlie)
    obj = items["indicator"]
    for url in [
        f"/objects/{obj.id}/",
        f"/objects/{obj.id}/download.zip",
        f"/objects/bundle.json?object={obj.id}",
        f"/publications/{publication.id}/bundle.json",
        f"/stix/{obj.stix_id}/",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"GridRAT" not in response.content and b"203.0.113.7" not in response.content


def test_a_recipient_cannot_open_the_publishers_publication_page_or_its_bundle(
    shared, alpine_admin
):
    publication, _ = shared
    client = client_for(alpine_admin)
    assert client.get(f"/publications/{publication.id}/").status_code == 404
    assert client.get(f"/publications/{publication.id}/bundle.json").status_code == 404


# --- Downloads ---------------------------------------------------------------------------


def test_the_object_downloads_with_its_receipt_as_a_zip(shared, alpine_admin):
    _, items = shared
    obj = items["indicator"]
    response = client_for(alpine_admin).get(f"/objects/{obj.id}/download.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    stem = f"{obj.stix_id}@20261120T083000000Z"
    assert response["Content-Disposition"] == f'attachment; filename="{stem}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted(
        [f"{stem}.json", f"{stem}.receipt.json", "VERIFY.txt", "trust-root.json"]
    )
    trust_root = json.loads(archive.read("trust-root.json"))
    assert json.dumps(FAKE_RECEIPT["anchor"]["contract"]) in json.dumps(trust_root)
    assert json.loads(archive.read(f"{stem}.json")) == obj.body
    assert json.loads(archive.read(f"{stem}.receipt.json")) == FAKE_RECEIPT
    assert "python -m ledger.verify" in archive.read("VERIFY.txt").decode()


def test_an_object_without_receipt_has_no_download(shared, alpine_admin):
    _, items = shared
    items["indicator"].publication.items.update(receipt=None)
    response = client_for(alpine_admin).get(f"/objects/{items['indicator'].id}/download.zip")
    assert response.status_code == 404


def test_the_delivered_publication_downloads_as_a_stix_bundle(shared, alpine_admin):
    publication, items = shared
    delivery = Delivery.objects.get(organisation=alpine_admin.organisation)
    response = client_for(alpine_admin).get(f"/inbox/{delivery.id}/bundle.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/stix+json;version=2.1"
    bundle = response.json()
    assert bundle["type"] == "bundle" and bundle["id"] == publication.bundle_id
    assert [obj["id"] for obj in bundle["objects"]] == [
        obj.stix_id for obj in publication.items.order_by("id")
    ]


def test_the_publisher_downloads_its_publication_as_a_bundle(shared, bob):
    publication, _ = shared
    response = client_for(bob).get(f"/publications/{publication.id}/bundle.json")
    assert response.status_code == 200
    assert len(response.json()["objects"]) == 3


def test_a_selection_downloads_as_one_bundle(shared, alpine_admin):
    _, items = shared
    chosen = [items["malware"].id, items["indicator"].id]
    response = client_for(alpine_admin).get(
        "/objects/bundle.json", {"object": [str(i) for i in chosen]}
    )
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["id"].startswith("bundle--")
    assert [obj["type"] for obj in bundle["objects"]] == ["malware", "indicator"]


def test_a_selection_with_a_foreign_object_is_not_found(shared, alpine_admin, charlie):
    _, items = shared
    other = publish(charlie_publisher(charlie), distribution="organisation")
    foreign = other.items.first()
    response = client_for(alpine_admin).get(
        "/objects/bundle.json", {"object": [items["indicator"].id, foreign.id]}
    )
    assert response.status_code == 404


def charlie_publisher(charlie):
    from tests.conftest import _member

    return _member(charlie.organisation, "pub@elsewhere.example", 20)


@pytest.mark.parametrize(
    "query, message",
    [
        ("", b"Choose at least one object"),
        ("?object=abc", b"whole numbers"),
        ("?" + "&".join(f"object={i}" for i in range(501)), b"at most 500"),
    ],
)
def test_a_bad_selection_is_refused_with_a_reason(shared, alpine_admin, query, message):
    response = client_for(alpine_admin).get(f"/objects/bundle.json{query}")
    assert response.status_code == 400
    assert message in response.content


# --- Search ------------------------------------------------------------------------------


def search(user, **params) -> str:
    response = client_for(user).get("/search/", params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_an_ip_address_finds_the_indicators_that_mention_it(shared, alpine_admin, charlie):
    _, items = shared
    found = search(alpine_admin, observable=" 203.0.113.7 ")
    assert f'href="/objects/{items["indicator"].id}/"' in found
    assert f'href="/objects/{items["malware"].id}/"' not in found
    assert "GridRAT" not in search(alpine_admin, observable="198.51.100.1")
    assert "Nothing matches." in search(charlie, observable="203.0.113.7")


def test_an_ip_address_finds_an_indicator_of_its_network(trust_group, publisher, alpine_admin):
    indicator, _, _ = campaign_bundle()
    indicator["pattern"] = "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"
    publication = delivered(publisher, alpine_admin.organisation, [indicator])
    found = search(alpine_admin, observable="198.51.100.77")
    assert f'href="/objects/{publication.items.get().id}/"' in found


def test_a_hash_is_found_whatever_its_case(trust_group, publisher, alpine_admin):
    digest = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
    indicator = stix_samples.indicator(pattern=f"[file:hashes.'SHA-256' = '{digest}']")
    publication = delivered(publisher, alpine_admin.organisation, [indicator])
    assert ObservableValue.objects.get().value == digest.lower()
    found = search(alpine_admin, observable=digest.lower())
    assert f'href="/objects/{publication.items.get().id}/"' in found


def test_text_search_finds_names_and_descriptions(shared, alpine_admin):
    _, items = shared
    assert f'href="/objects/{items["malware"].id}/"' in search(alpine_admin, q="gridrat")
    by_description = search(alpine_admin, q="beacons")
    assert f'href="/objects/{items["indicator"].id}/"' in by_description
    assert f'href="/objects/{items["malware"].id}/"' not in by_description
    assert "Nothing matches." in search(alpine_admin, q="nonexistentword")


def test_filters_by_type_tlp_publisher_trust_group_dates_and_scope(
    shared, trust_group, publisher, alpine_admin
):
    publication, items = shared
    indicator = items["indicator"]
    link = f'href="/objects/{indicator.id}/"'
    org = publisher.organisation
    assert link in search(alpine_admin, type="indicator")
    assert link not in search(alpine_admin, type="malware")
    assert link in search(alpine_admin, tlp="amber")
    assert link not in search(alpine_admin, tlp="green")
    assert link in search(alpine_admin, publisher=org.id)
    assert link not in search(alpine_admin, publisher=alpine_admin.organisation.id)
    assert link in search(alpine_admin, trust_group=trust_group.id)
    today = timezone.now().date()
    assert link in search(alpine_admin, since=today.isoformat(), until=today.isoformat())
    assert link not in search(alpine_admin, since=(today + timedelta(days=1)).isoformat())
    assert link not in search(alpine_admin, until=(today - timedelta(days=1)).isoformat())
    assert link in search(alpine_admin, scope="inbox")
    assert link not in search(alpine_admin, scope="own")
    assert link in search(publisher, scope="own")


def test_a_trust_group_of_another_organisation_is_not_a_valid_filter(shared, charlie):
    from portal.models import TrustGroup

    group = TrustGroup.objects.get()
    response = client_for(charlie).get("/search/", {"trust_group": group.id})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_reversed_dates_are_refused_with_a_message(shared, alpine_admin):
    response = client_for(alpine_admin).get(
        "/search/", {"since": "2026-11-20", "until": "2026-11-01"}
    )
    assert response.status_code == 400
    assert "The start date is after the end date." in response.content.decode()


def test_pages_of_results_follow_each_other_without_overlap(
    settings, trust_group, publisher, alpine_admin
):
    from sharing import reading

    objects = [stix_samples.indicator(name=f"n{i}") for i in range(7)]
    delivered(publisher, alpine_admin.organisation, objects)
    seen: list[int] = []
    after = None
    while True:
        page = reading.search_objects(
            user=alpine_admin, filters=reading.SearchFilters(), after=after, limit=3
        )
        seen.extend(obj.id for obj in page.objects)
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == 7 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_the_next_page_link_keeps_the_filters(trust_group, publisher, alpine_admin):
    objects = [stix_samples.indicator(name=f"n{i}") for i in range(30)]
    delivered(publisher, alpine_admin.organisation, objects)
    content = search(alpine_admin, type="indicator")
    assert "Older →" in content
    assert "?type=indicator&amp;after=" in content


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text index")
def test_the_text_search_uses_the_full_text_index(shared, alpine_admin):
    from sharing import reading

    query = reading._text_filter(reading.visible_objects_for(alpine_admin.organisation), "grid")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "published_object_text" in plan, plan
