"""Recipients acknowledge a delivery (their own verdict, with a comment); the publisher sees,
per recipient, the inbox delivery, webhook messages, the portal's verification and that
acknowledgement (API and page), in a fixed number of queries."""

import pytest
from django.test import Client

from portal.audit.models import AuditAction, AuditEvent
from portal.models import Role
from sharing.models import Delivery, WebhookEndpoint, WebhookMessage
from tests.conftest import _member
from tests.sharing.test_reading import campaign_bundle, delivered

pytestmark = pytest.mark.django_db


@pytest.fixture
def publication(trust_group, publisher, alpine_admin):
    return delivered(publisher, alpine_admin.organisation, campaign_bundle())


@pytest.fixture
def copy(publication, alpine_admin) -> Delivery:
    return Delivery.objects.get(publication=publication, organisation=alpine_admin.organisation)


def api_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def acknowledge(client, delivery_id, body):
    return client.post(
        f"/api/inbox/{delivery_id}/acknowledge/", body, content_type="application/json"
    )


def test_the_recipient_acknowledges_and_the_audit_trail_records_it(copy, alpine_admin):
    response = acknowledge(
        api_client(alpine_admin), copy.id, {"outcome": "verified", "comment": "  Checked. "}
    )
    assert response.status_code == 200, response.content
    body = response.json()["acknowledgement"]
    assert body["outcome"] == "verified" and body["comment"] == "Checked."
    assert body["by"] == alpine_admin.email and body["at"]
    event = AuditEvent.objects.get(action=AuditAction.DELIVERY_ACKNOWLEDGED)
    assert event.actor == alpine_admin and event.organisation == alpine_admin.organisation
    assert event.target == f"delivery:{copy.id}" and event.detail["replaces"] == ""


def test_a_second_acknowledgement_replaces_the_first_and_both_are_audited(copy, alpine_admin):
    client = api_client(alpine_admin)
    acknowledge(client, copy.id, {"outcome": "verified"})
    acknowledge(client, copy.id, {"outcome": "failed", "comment": "Signature key unknown"})
    copy.refresh_from_db()
    assert copy.acknowledgement == "failed" and copy.acknowledgement_comment.startswith("Sig")
    events = AuditEvent.objects.filter(action=AuditAction.DELIVERY_ACKNOWLEDGED).order_by("seq")
    assert [e.detail["outcome"] for e in events] == ["verified", "failed"]
    assert events.last().detail["replaces"] == "verified"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"outcome": "ok"}, 'outcome: "ok" is not a valid choice.'),
        ({}, "outcome: This field is required."),
        ({"outcome": "verified", "comment": "x" * 2001}, "no more than 2000 characters"),
        ({"outcome": ["verified"]}, "outcome:"),
    ],
)
def test_bad_input_is_a_400_that_writes_nothing(copy, alpine_admin, body, message):
    response = acknowledge(api_client(alpine_admin), copy.id, body)
    assert response.status_code == 400
    assert any(message in error for error in response.json()["errors"]), response.json()
    copy.refresh_from_db()
    assert copy.acknowledgement == ""
    assert not AuditEvent.objects.filter(action=AuditAction.DELIVERY_ACKNOWLEDGED).exists()


def test_another_organisation_gets_404_and_a_reader_403(copy, charlie, alpine):
    assert acknowledge(api_client(charlie), copy.id, {"outcome": "verified"}).status_code == 404
    reader = _member(alpine, "rita@alpine.example", Role.READER)
    refused = acknowledge(api_client(reader), copy.id, {"outcome": "verified"})
    assert refused.status_code == 403
    assert "publishers and organisation admins" in refused.json()["detail"]
    copy.refresh_from_db()
    assert copy.acknowledgement == ""


def test_a_read_only_token_cannot_acknowledge(client, copy, alpine_admin, token_for):
    response = client.post(
        f"/api/inbox/{copy.id}/acknowledge/",
        {"outcome": "verified"},
        content_type="application/json",
        headers=token_for(alpine_admin, scope="read"),
    )
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_the_inbox_item_page_has_an_acknowledgement_form(copy, alpine_admin):
    client = api_client(alpine_admin)
    page = client.get(f"/inbox/{copy.id}/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and 'name="outcome"' in page
    bad = client.post(f"/inbox/{copy.id}/", {"outcome": "nonsense", "comment": "x"})
    assert bad.status_code == 400
    response = client.post(
        f"/inbox/{copy.id}/", {"outcome": "failed", "comment": "<script>alert(1)</script>"}
    )
    assert response.status_code == 302
    page = client.get(f"/inbox/{copy.id}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_the_publisher_sees_each_recipients_status(
    publication, copy, publisher, alpine_admin, charlie
):
    endpoint = WebhookEndpoint.objects.create(
        organisation=alpine_admin.organisation, url="https://hooks.example/x", encrypted_secret="x"
    )
    WebhookMessage.objects.create(
        endpoint=endpoint, publication=publication, state="failed", attempts=5
    )
    acknowledge(api_client(alpine_admin), copy.id, {"outcome": "verified", "comment": "<b>ok</b>"})
    rows = api_client(publisher).get(f"/api/publications/{publication.id}/recipients/").json()
    assert [r["organisation"] for r in rows] == [
        publisher.organisation.name,
        alpine_admin.organisation.name,
    ]
    own, theirs = rows
    assert own["webhook_summary"] == "none" and own["acknowledgement"] is None
    assert theirs["webhook_summary"] == "failed"
    assert theirs["webhooks"] == [
        {"endpoint_id": endpoint.id, "state": "failed", "attempts": 5, "succeeded_at": None}
    ]
    assert "url" not in theirs["webhooks"][0]  # the recipient's own configuration
    assert theirs["verification"] == "pending" and theirs["delivered_at"]
    assert theirs["acknowledgement"]["outcome"] == "verified"
    assert theirs["acknowledgement"]["by"] == alpine_admin.email
    page = api_client(publisher).get(f"/publications/{publication.id}/").content.decode()
    assert "endpoint 1: failed, 5 attempts" in page
    assert "&lt;b&gt;ok&lt;/b&gt;" in page and f"by {alpine_admin.email}" in page
    # Only the publisher: the recipient and another organisation get 404.
    for user in (alpine_admin, charlie):
        url = f"/api/publications/{publication.id}/recipients/"
        assert api_client(user).get(url).status_code == 404


@pytest.mark.parametrize("extra", [0, 5])
def test_the_recipients_endpoint_and_page_cost_fixed_queries(
    publication, publisher, make_organisation, django_assert_num_queries, extra
):
    for n in range(extra):
        organisation = make_organisation(f"Recipient {n}")
        Delivery.objects.create(publication=publication, organisation=organisation)
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation, url="https://hooks.example/x", encrypted_secret="x"
        )
        WebhookMessage.objects.create(endpoint=endpoint, publication=publication)
    client = api_client(publisher)
    client.get("/")
    # The frame (session, user, user session: 4, MFA), then the organisation, the publication
    # and its trust groups, the deliveries and the webhook messages.
    with django_assert_num_queries(14):
        rows = client.get(f"/api/publications/{publication.id}/recipients/").json()
    assert len(rows) == 2 + extra
    with django_assert_num_queries(17):  # as test_reading_queries counts the publication page
        client.get(f"/publications/{publication.id}/")


def test_the_form_refuses_readers_and_other_organisations(copy, charlie, alpine):
    reader = _member(alpine, "rita@alpine.example", Role.READER)
    page = api_client(reader).get(f"/inbox/{copy.id}/").content.decode()
    assert 'name="outcome"' not in page  # no form for readers
    assert api_client(reader).post(f"/inbox/{copy.id}/", {"outcome": "verified"}).status_code == 403
    assert (
        api_client(charlie).post(f"/inbox/{copy.id}/", {"outcome": "verified"}).status_code == 404
    )
    copy.refresh_from_db()
    assert copy.acknowledgement == ""
