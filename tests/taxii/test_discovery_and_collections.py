"""Discovery, the API root and the collections of the trust model, with their permissions."""

import uuid

import pytest

from portal.models import TokenScope
from tests.taxii.conftest import TAXII, collection_url

pytestmark = pytest.mark.django_db


def test_discovery_names_the_api_root(taxii_as, bob):
    response = taxii_as(bob).get("/taxii2/")
    assert response.status_code == 200
    assert response["Content-Type"] == TAXII
    body = response.json()
    assert body["api_roots"] == ["http://testserver/taxii2/api/"]
    assert body["default"] == "http://testserver/taxii2/api/"


def test_the_api_root_declares_taxii_21(taxii_as, bob, settings):
    body = taxii_as(bob).get("/taxii2/api/").json()
    assert body["versions"] == [TAXII]
    assert body["max_content_length"] == settings.PUBLISH_MAX_BYTES


def test_a_member_sees_its_organisation_the_community_and_its_trust_groups(
    taxii_as, alice, trust_group
):
    body = taxii_as(alice).get("/taxii2/api/collections/").json()
    titles = [(c["alias"], c["title"]) for c in body["collections"]]
    assert titles == [
        ("organisation", "Nordgrid Transmission"),
        ("community", "Community"),
        (f"trust-group-{trust_group.pk}", "Grid ISAC"),
    ]
    assert all(
        c["media_types"] == ["application/stix+json;version=2.1"] for c in body["collections"]
    )


def test_an_organisation_outside_every_group_sees_two_collections(taxii_as, charlie, trust_group):
    body = taxii_as(charlie).get("/taxii2/api/collections/").json()
    assert [c["alias"] for c in body["collections"]] == ["organisation", "community"]


def test_collection_ids_are_the_same_for_every_member_of_a_group(
    taxii_as, alice, alpine_admin, trust_group
):
    mine = taxii_as(alice).get("/taxii2/api/collections/").json()["collections"]
    theirs = taxii_as(alpine_admin).get("/taxii2/api/collections/").json()["collections"]
    assert mine[1]["id"] == theirs[1]["id"]  # the community
    assert mine[2]["id"] == theirs[2]["id"]  # the trust group
    assert mine[0]["id"] != theirs[0]["id"]  # each organisation's own


@pytest.mark.parametrize(
    ("who", "scope", "can_write"),
    [
        ("alice", TokenScope.PUBLISH, True),
        ("publisher", TokenScope.PUBLISH, True),
        ("publisher", TokenScope.READ, False),
        ("bob", TokenScope.READ, False),  # a reader cannot hold a publish token at all
    ],
)
def test_can_write_follows_the_role_and_the_token_scope(
    request, taxii_as, trust_group, who, scope, can_write
):
    user = request.getfixturevalue(who)
    body = taxii_as(user, scope=scope).get("/taxii2/api/collections/").json()
    assert {c["can_write"] for c in body["collections"]} == {can_write}
    assert {c["can_read"] for c in body["collections"]} == {True}


def test_one_collection_by_its_id(taxii_as, bob, trust_group):
    url = collection_url(bob.organisation, f"trust-group-{trust_group.pk}")
    body = taxii_as(bob).get(url).json()
    assert body["title"] == "Grid ISAC"
    assert body["can_write"] is False


def test_another_organisations_collections_are_not_found(taxii_as, charlie, alice, trust_group):
    for alias in ("organisation", f"trust-group-{trust_group.pk}"):
        url = collection_url(alice.organisation, alias)
        for path in ("", "objects/", "manifest/", "receipts/"):
            response = taxii_as(charlie).get(url + path)
            assert response.status_code == 404, (alias, path)
            assert response["Content-Type"] == TAXII
            assert response.json()["http_status"] == "404"


def test_an_unknown_collection_is_not_found(taxii_as, alice):
    response = taxii_as(alice).get(f"/taxii2/api/collections/{uuid.uuid4()}/objects/")
    assert response.status_code == 404


def test_basic_authentication_takes_the_token_as_password(client, bob, token_for):
    import base64

    raw = token_for(bob)["Authorization"].split()[1]
    credentials = base64.b64encode(f"{bob.email}:{raw}".encode()).decode()
    response = client.get(
        "/taxii2/api/collections/",
        headers={"Authorization": f"Basic {credentials}", "Accept": TAXII},
    )
    assert response.status_code == 200
    assert len(response.json()["collections"]) == 2


def test_a_wrong_basic_password_is_refused(client, bob):
    import base64

    credentials = base64.b64encode(f"{bob.email}:ctp_wrong".encode()).decode()
    response = client.get(
        "/taxii2/api/", headers={"Authorization": f"Basic {credentials}", "Accept": TAXII}
    )
    assert response.status_code == 401
    assert response.json()["title"] == "Authentication required"


def test_without_credentials_it_asks_for_them(client):
    response = client.get("/taxii2/", headers={"Accept": TAXII})
    assert response.status_code == 401
    assert "Basic" in response["WWW-Authenticate"]
    assert response["Content-Type"] == TAXII
