"""Unread markers per user: what each member has not opened yet, in the inbox page, the
navigation count and the API (`?unread=1`); opening an item marks it read for that user only."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import Role
from sharing.models import Delivery, DeliveryRead
from sharing.selectors import unread_count
from sharing.services.inbox import mark_all_read
from tests.conftest import _member
from tests.sharing.test_reading import campaign_bundle, delivered

pytestmark = pytest.mark.django_db


@pytest.fixture
def copies(trust_group, publisher, alpine_admin):
    publications = [
        delivered(publisher, alpine_admin.organisation, campaign_bundle(ip=f"203.0.113.{n}"))
        for n in (1, 2)
    ]
    return [
        Delivery.objects.get(publication=p, organisation=alpine_admin.organisation)
        for p in publications
    ]


@pytest.fixture
def colleague(alpine):
    return _member(alpine, "rita@alpine.example", Role.READER)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_opening_an_item_marks_it_read_for_that_user_only(colleague, copies, alpine_admin):
    first, second = copies
    client = logged_in(alpine_admin)
    assert unread_count(user=alpine_admin) == 2
    inbox = client.get("/inbox/").content.decode()
    assert inbox.count('class="unread"') == 2
    assert '<span class="nav-count" title="2 unread" aria-label="2 unread">2</span>' in inbox
    client.get(f"/inbox/{first.id}/")
    client.get(f"/inbox/{first.id}/")  # again: still one row
    assert DeliveryRead.objects.filter(user=alpine_admin).count() == 1
    assert unread_count(user=alpine_admin) == 1
    assert unread_count(user=colleague) == 2
    only_unread = client.get("/inbox/?unread=1").content.decode()
    assert f"/inbox/{second.id}/" in only_unread and f"/inbox/{first.id}/" not in only_unread


def test_the_api_filters_unread_and_the_detail_marks_read(colleague, copies):
    first, second = copies
    client = logged_in(colleague)
    listed = client.get("/api/inbox/").json()["results"]
    assert [d["unread"] for d in listed] == [True, True]
    client.get(f"/api/inbox/{second.id}/")
    unread = client.get("/api/inbox/?unread=1").json()["results"]
    assert [d["id"] for d in unread] == [first.id]
    everything = client.get("/api/inbox/").json()["results"]
    assert {d["id"]: d["unread"] for d in everything} == {first.id: True, second.id: False}


def test_another_organisations_delivery_is_404_and_not_marked(copies, charlie):
    response = logged_in(charlie).get(f"/api/inbox/{copies[0].id}/")
    assert response.status_code == 404
    assert not DeliveryRead.objects.exists()


def test_mark_all_read_moves_the_high_water_mark_and_drops_the_rows(
    copies, alpine_admin, publisher
):
    client = logged_in(alpine_admin)
    client.get(f"/inbox/{copies[0].id}/")
    response = client.post("/inbox/read/")
    assert response.status_code == 302
    assert unread_count(user=alpine_admin) == 0
    assert not DeliveryRead.objects.filter(user=alpine_admin).exists()
    later = delivered(publisher, alpine_admin.organisation, campaign_bundle(ip="198.51.100.9"))
    Delivery.objects.filter(publication=later).update(
        created_at=timezone.now() + timedelta(seconds=1)
    )
    assert unread_count(user=alpine_admin) == 1


def test_what_arrived_before_a_member_joined_is_not_news(copies, alpine):
    newcomer = _member(alpine, "late@alpine.example", Role.READER)
    assert unread_count(user=newcomer) == 0
    mark_all_read(user=newcomer)
    assert unread_count(user=newcomer) == 0


def test_mark_all_read_needs_a_post(copies, alpine_admin):
    assert logged_in(alpine_admin).get("/inbox/read/").status_code == 405
    assert unread_count(user=alpine_admin) == 2


def test_the_api_inbox_costs_fixed_queries(
    copies, alpine_admin, publisher, django_assert_num_queries
):
    client = logged_in(alpine_admin)
    client.get("/")
    with django_assert_num_queries(13) as captured:
        client.get("/api/inbox/?unread=1")
    for n in range(4):
        delivered(publisher, alpine_admin.organisation, campaign_bundle(ip=f"198.51.100.{n}"))
    with django_assert_num_queries(len(captured.captured_queries)):
        assert len(client.get("/api/inbox/?unread=1").json()["results"]) == 6


def test_a_bad_unread_value_is_a_400(copies, alpine_admin):
    response = logged_in(alpine_admin).get("/api/inbox/?unread=maybe")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "unread: Use unread=1 (only what you have not opened) or unread=0."
    ]
