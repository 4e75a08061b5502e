"""The inbox, publication, object and search pages cost a fixed number of queries, however
many rows they show."""

import pytest
from django.test import Client

from tests.sharing.test_reading import campaign_bundle, delivered

pytestmark = pytest.mark.django_db

# Every logged-in request costs 9: session, user, allauth's user-session record (two
# savepoints, read, user, update), the MFA check, the unread count next to Inbox. The rest is
# the page's own, fixed. The inbox and the publication page also read the objects' lineages
# once for their version marks (sharing.history); the publication page reads the recipients'
# webhook messages once (sharing.selectors.recipient_statuses).
QUERIES = {"inbox": 9 + 5, "publication": 9 + 8, "object": 9 + 6, "search": 9 + 4}


@pytest.fixture(params=[1, 6], ids=["one", "six"])
def world(request, trust_group, publisher, alpine_admin):
    publications = []
    for number in range(request.param):
        objects = campaign_bundle(ip=f"203.0.113.{number + 1}")
        publications.append(delivered(publisher, alpine_admin.organisation, objects))
    return publications


def get(user, url: str, data=None):
    client = Client()
    client.force_login(user)
    client.get("/")  # the first request of a session records it (allauth's user sessions)
    return client, (lambda: client.get(url, data))


def test_the_inbox(world, alpine_admin, django_assert_num_queries):
    _, fetch = get(alpine_admin, "/inbox/")
    with django_assert_num_queries(QUERIES["inbox"]):
        assert fetch().status_code == 200


def test_the_publication_page(world, publisher, django_assert_num_queries):
    _, fetch = get(publisher, f"/publications/{world[-1].id}/")
    with django_assert_num_queries(QUERIES["publication"]):
        assert fetch().status_code == 200


def test_the_object_page(world, alpine_admin, django_assert_num_queries):
    malware = world[-1].items.get(stix_type="malware")
    _, fetch = get(alpine_admin, f"/objects/{malware.id}/")
    with django_assert_num_queries(QUERIES["object"]):
        assert fetch().status_code == 200


def test_the_search_page(world, alpine_admin, django_assert_num_queries):
    _, fetch = get(alpine_admin, "/search/", {"q": "gridrat", "observable": "", "type": ""})
    with django_assert_num_queries(QUERIES["search"]):
        response = fetch()
    assert response.status_code == 200
    assert response.content.decode().count("GridRAT") >= len(world)
