"""Reading a collection: what is visible (the distribution rules of the web and REST paths),
each filter, pagination and its edge cases, manifest, one object, versions and receipts."""

from datetime import timedelta

import pytest

from sharing.models import Publication
from sharing.services import publishing
from tests import stix_samples
from tests.taxii.conftest import T0, collection_url, deliver

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [obj["id"] for obj in response.json().get("objects", [])]


def community(user) -> str:
    return collection_url(user.organisation, "community")


def group(user, trust_group) -> str:
    return collection_url(user.organisation, f"trust-group-{trust_group.pk}")


def own(user) -> str:
    return collection_url(user.organisation, "organisation")


# --- Distribution rules: the same audience as the inbox -----------------------------------


def test_community_publications_reach_every_organisation(shared, taxii_as, publisher, charlie):
    indicator = stix_samples.indicator()
    shared(publisher, indicator, distribution="community")
    assert ids(taxii_as(charlie).get(community(charlie) + "objects/")) == [indicator["id"]]
    assert ids(taxii_as(publisher).get(community(publisher) + "objects/")) == [indicator["id"]]


def test_trust_group_publications_reach_only_the_groups_members(
    shared, taxii_as, publisher, alpine_admin, charlie, trust_group
):
    indicator = stix_samples.indicator()
    shared(publisher, indicator, distribution="trust_groups", tlp="amber")
    url = group(alpine_admin, trust_group) + "objects/"
    assert ids(taxii_as(alpine_admin).get(url)) == [indicator["id"]]
    assert taxii_as(charlie).get(url).status_code == 404
    assert ids(taxii_as(charlie).get(community(charlie) + "objects/")) == []
    assert ids(taxii_as(alpine_admin).get(community(alpine_admin) + "objects/")) == []


def test_a_trust_group_collection_holds_only_what_was_sent_to_that_group(
    shared, taxii_as, publisher, alpine_admin, trust_group, nordgrid, make_organisation
):
    from portal.models import TrustGroup
    from portal.services import add_to_trust_group

    other = TrustGroup.objects.create(name="Other ISAC")
    add_to_trust_group(group=other, organisation=nordgrid)
    add_to_trust_group(group=other, organisation=alpine_admin.organisation)
    only_other = stix_samples.indicator()
    shared(publisher, only_other, distribution="trust_groups", trust_group_ids=[other.pk])
    assert ids(taxii_as(alpine_admin).get(group(alpine_admin, trust_group) + "objects/")) == []
    assert ids(taxii_as(alpine_admin).get(group(alpine_admin, other) + "objects/")) == [
        only_other["id"]
    ]


def test_organisation_publications_stay_in_the_organisation(
    shared, taxii_as, publisher, bob, alpine_admin, trust_group
):
    indicator = stix_samples.indicator()
    shared(publisher, indicator, distribution="organisation", tlp="red")
    assert ids(taxii_as(bob).get(own(bob) + "objects/")) == [indicator["id"]]
    assert ids(taxii_as(alpine_admin).get(own(alpine_admin) + "objects/")) == []
    assert ids(taxii_as(alpine_admin).get(group(alpine_admin, trust_group) + "objects/")) == []
    assert ids(taxii_as(alpine_admin).get(community(alpine_admin) + "objects/")) == []


def test_only_delivered_publications_are_visible(taxii_as, publisher, charlie):
    publishing.publish_bundle(
        acting_user=publisher, bundle=stix_samples.bundle(), distribution="community", tlp="green"
    )
    for state in ("received", "sealed", "anchored"):
        Publication.objects.update(state=state)
        assert ids(taxii_as(charlie).get(community(charlie) + "objects/")) == [], state


def test_an_organisation_that_joins_a_group_later_does_not_see_earlier_publications(
    shared, taxii_as, publisher, trust_group, charlie
):
    from portal.services import add_to_trust_group

    shared(publisher, stix_samples.indicator(), distribution="trust_groups")
    add_to_trust_group(group=trust_group, organisation=charlie.organisation)
    # Recipients are fixed at delivery, as in the inbox.
    assert ids(taxii_as(charlie).get(group(charlie, trust_group) + "objects/")) == []


# --- Filters -------------------------------------------------------------------------------


@pytest.fixture
def three(shared, publisher, charlie):
    """Three publications to the community at T0, T0+1 min and T0+2 min."""
    first, second, third = (stix_samples.indicator() for _ in range(3))
    shared(publisher, first, minutes=0)
    shared(publisher, second, stix_samples.report([second["id"]]), minutes=1)
    shared(publisher, third, minutes=2)
    return first, second, third


def test_added_after_is_exclusive(three, taxii_as, charlie):
    first, second, third = three
    url = community(charlie) + "objects/?added_after="
    assert ids(taxii_as(charlie).get(url + "2026-11-20T09:00:00Z")) == [
        second["id"],
        ids(taxii_as(charlie).get(url + "2026-11-20T09:00:00Z"))[1],
        third["id"],
    ]
    assert ids(taxii_as(charlie).get(url + "2026-11-20T09:02:00.000000Z")) == []


def test_match_id_takes_a_list(three, taxii_as, charlie):
    first, _, third = three
    url = community(charlie) + f"objects/?match[id]={third['id']},{first['id']}"
    assert ids(taxii_as(charlie).get(url)) == [first["id"], third["id"]]


def test_match_type(three, taxii_as, charlie):
    url = community(charlie) + "objects/?match[type]=report"
    found = ids(taxii_as(charlie).get(url))
    assert len(found) == 1 and found[0].startswith("report--")
    url = community(charlie) + "objects/?match[type]=report,indicator"
    assert len(ids(taxii_as(charlie).get(url))) == 4


@pytest.fixture
def versions(shared, publisher, charlie):
    """One indicator in three versions, published at T0, T0+1 and T0+2 minutes."""
    v1 = stix_samples.indicator()
    v2 = {**v1, "modified": "2026-11-21T08:30:00.000Z"}
    v3 = {**v1, "modified": "2026-11-22T08:30:00.000Z"}
    for minutes, version in enumerate((v1, v2, v3)):
        shared(publisher, version, minutes=minutes)
    return v1, v2, v3


def modified(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [obj["modified"] for obj in response.json().get("objects", [])]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("", ["2026-11-22T08:30:00.000Z"]),
        ("last", ["2026-11-22T08:30:00.000Z"]),
        ("first", ["2026-11-20T08:30:00.000Z"]),
        ("first,last", ["2026-11-20T08:30:00.000Z", "2026-11-22T08:30:00.000Z"]),
        (
            "all",
            ["2026-11-20T08:30:00.000Z", "2026-11-21T08:30:00.000Z", "2026-11-22T08:30:00.000Z"],
        ),
        ("2026-11-21T08:30:00.000Z", ["2026-11-21T08:30:00.000Z"]),
        ("2026-11-23T08:30:00.000Z", []),
    ],
)
def test_match_version(versions, taxii_as, charlie, match, expected):
    query = f"?match[version]={match}" if match else ""
    assert modified(taxii_as(charlie).get(community(charlie) + "objects/" + query)) == expected


def test_match_spec_version(three, taxii_as, charlie):
    url = community(charlie) + "objects/?match[spec_version]="
    assert len(ids(taxii_as(charlie).get(url + "2.1"))) == 4
    assert ids(taxii_as(charlie).get(url + "2.0")) == []
    assert len(ids(taxii_as(charlie).get(url + "2.0,2.1"))) == 4


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("added_after=yesterday", "added_after must be a timestamp"),
        ("added_after=2026-13-45T00:00:00Z", "added_after must be a timestamp"),
        ("match[version]=newest", "match[version] must be a timestamp"),
        ("match[spec_version]=3.0", "Unknown spec version"),
        ("limit=-1", "limit must be a positive integer"),
        ("limit=ten", "limit must be a positive integer"),
        ("next=not-a-cursor", "Invalid next"),
        ("match[colour]=red", "Unsupported query parameter"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(taxii_as, charlie, query, title):
    response = taxii_as(charlie).get(community(charlie) + "objects/?" + query)
    assert response.status_code == 400
    assert response.json()["title"] == title
    assert response.json()["http_status"] == "400"


# --- Pagination ----------------------------------------------------------------------------


def test_an_empty_collection(taxii_as, charlie):
    response = taxii_as(charlie).get(community(charlie) + "objects/")
    assert response.status_code == 200
    assert response.json() == {"more": False, "objects": []}
    assert "X-TAXII-Date-Added-First" not in response


def test_pages_follow_next_and_carry_the_date_headers(three, taxii_as, charlie):
    url = community(charlie) + "objects/?limit=3"
    first = taxii_as(charlie).get(url)
    body = first.json()
    assert body["more"] is True and len(body["objects"]) == 3
    assert first["X-TAXII-Date-Added-First"] == "2026-11-20T09:00:00.000000Z"
    assert first["X-TAXII-Date-Added-Last"] == "2026-11-20T09:01:00.000000Z"
    second = taxii_as(charlie).get(url + "&next=" + body["next"])
    assert second.json()["more"] is False and "next" not in second.json()
    assert second["X-TAXII-Date-Added-First"] == "2026-11-20T09:02:00.000000Z"
    assert len(second.json()["objects"]) == 1


def test_a_page_ending_exactly_at_the_last_object_says_no_more(three, taxii_as, charlie):
    response = taxii_as(charlie).get(community(charlie) + "objects/?limit=4")
    assert response.json()["more"] is False
    assert len(response.json()["objects"]) == 4
    halves = taxii_as(charlie).get(community(charlie) + "objects/?limit=2").json()
    rest = taxii_as(charlie).get(community(charlie) + "objects/?limit=2&next=" + halves["next"])
    assert rest.json()["more"] is False and len(rest.json()["objects"]) == 2


def test_objects_added_while_paging_come_after_the_cursor(
    three, shared, taxii_as, charlie, publisher
):
    url = community(charlie) + "objects/?limit=2"
    seen = []
    body = taxii_as(charlie).get(url).json()
    seen += [obj["id"] for obj in body["objects"]]
    late = stix_samples.indicator()
    shared(publisher, late, minutes=5)
    while body["more"]:
        body = taxii_as(charlie).get(url + "&next=" + body["next"]).json()
        seen += [obj["id"] for obj in body["objects"]]
    assert len(seen) == len(set(seen)) == 5
    assert seen[-1] == late["id"]


def test_a_limit_above_the_maximum_is_capped(three, taxii_as, charlie, settings):
    settings.TAXII_MAX_PAGE_SIZE = 2
    body = taxii_as(charlie).get(community(charlie) + "objects/?limit=500").json()
    assert len(body["objects"]) == 2 and body["more"] is True


def test_a_page_costs_the_same_queries_whatever_its_size(
    three, taxii_as, charlie, django_assert_num_queries
):
    url, reader = community(charlie) + "objects/", taxii_as(charlie)
    reader.get("/taxii2/")  # the token's first use is recorded once
    # Token, collections (trust groups), the page.
    with django_assert_num_queries(3):
        assert len(reader.get(url + "?limit=1").json()["objects"]) == 1
    with django_assert_num_queries(3):
        assert len(reader.get(url + "?limit=100").json()["objects"]) == 4


# --- Manifest, one object, versions, receipts ----------------------------------------------


def test_the_manifest_describes_each_object(three, taxii_as, charlie):
    body = taxii_as(charlie).get(community(charlie) + "manifest/?match[type]=report").json()
    (record,) = body["objects"]
    assert record["date_added"] == "2026-11-20T09:01:00.000000Z"
    assert record["version"] == "2026-11-20T08:30:00.000Z"
    assert record["media_type"] == "application/stix+json;version=2.1"


def test_one_object_is_its_last_version_and_links_its_receipt(versions, taxii_as, charlie):
    v1, _, v3 = versions
    response = taxii_as(charlie).get(community(charlie) + f"objects/{v1['id']}/")
    assert response.json()["objects"] == [delivered(v3)]
    assert response["Link"] == (
        f'<http://testserver{community(charlie)}receipts/{v1["id"]}/>; rel="receipts"'
    )
    url = community(charlie) + f"objects/{v1['id']}/?match[version]=first"
    assert taxii_as(charlie).get(url).json()["objects"] == [delivered(v1)]


def test_an_object_not_in_the_collection_is_not_found(three, taxii_as, charlie):
    response = taxii_as(charlie).get(community(charlie) + "objects/indicator--nope/")
    assert response.status_code == 404


def test_versions_lists_every_version(versions, taxii_as, charlie):
    v1, _, _ = versions
    body = taxii_as(charlie).get(community(charlie) + f"objects/{v1['id']}/versions/").json()
    assert body == {
        "more": False,
        "versions": [
            "2026-11-20T08:30:00.000Z",
            "2026-11-21T08:30:00.000Z",
            "2026-11-22T08:30:00.000Z",
        ],
    }


def test_receipts_follow_the_objects_filters(three, taxii_as, charlie):
    from sharing.models import PublishedObject

    PublishedObject.objects.update(receipt={"version": 1, "fake": True})
    first, _, _ = three
    url = community(charlie) + f"receipts/?match[id]={first['id']}"
    body = taxii_as(charlie).get(url).json()
    assert body["receipts"] == [
        {
            "id": first["id"],
            "version": first["modified"],
            "date_added": "2026-11-20T09:00:00.000000Z",
            "receipt": {"version": 1, "fake": True},
        }
    ]


def test_the_date_added_is_the_delivery_time(publisher, taxii_as, charlie):
    publication = publishing.publish_bundle(
        acting_user=publisher, bundle=stix_samples.bundle(), distribution="community", tlp="green"
    )
    deliver(publication, at=T0 + timedelta(hours=3))
    response = taxii_as(charlie).get(community(charlie) + "manifest/")
    assert {o["date_added"] for o in response.json()["objects"]} == {"2026-11-20T12:00:00.000000Z"}


def delivered(obj: dict) -> dict:
    """The object as the portal stored and serves it: with its publisher's `created_by_ref`
    and the publication's TLP marking (sharing.services.provenance)."""
    from sharing.models import PublishedObject
    from sharing.stix import object_version

    return PublishedObject.objects.get(stix_id=obj["id"], version=object_version(obj)).body
