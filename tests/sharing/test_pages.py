"""The web pages: who may open what, by organisation and role, and the forms behind them.

alice is admin of Nordgrid, pat publishes for Nordgrid, bob reads at Nordgrid, ada is admin of
Alpine (in Nordgrid's trust group) and charlie is admin of an organisation outside it.
"""

import json
from dataclasses import dataclass
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.test import Client

from sharing.models import Delivery, Publication, PublishedObject, WebhookEndpoint
from sharing.services.webhook_messages import endpoint_secret
from sharing.services.webhooks import register_endpoint
from tests import stix_samples
from tests.sharing.test_pipeline import publish

pytestmark = pytest.mark.django_db

TITLE = "Spear-phishing against grid operators"
FAKE_RECEIPT = {"type": "cti-portal-receipt", "version": 1, "subject": "stand-in"}


@dataclass
class Rows:
    publication: Publication
    nordgrid_delivery: Delivery
    alpine_delivery: Delivery
    nordgrid_endpoint: WebhookEndpoint
    alpine_endpoint: WebhookEndpoint

    def url(self, name: str, delivery: str = "alpine", endpoint: str = "nordgrid") -> str:
        chosen = self.alpine_delivery if delivery == "alpine" else self.nordgrid_delivery
        hook = self.alpine_endpoint if endpoint == "alpine" else self.nordgrid_endpoint
        first = self.publication.items.order_by("id").first()
        return {
            "home": "/",
            "publish": "/publish/",
            "publications": "/publications/",
            "publication-detail": f"/publications/{self.publication.id}/",
            "inbox": "/inbox/",
            "delivery-detail": f"/inbox/{chosen.id}/",
            "receipt": f"/inbox/{chosen.id}/objects/{first.id}/receipt.json",
            "webhooks": "/webhooks/",
            "webhook-delete": f"/webhooks/{hook.id}/delete/",
        }[name]


@pytest.fixture
def rows(settings, trust_group, alice, publisher, bob, alpine_admin, charlie) -> Rows:
    """A Nordgrid publication delivered to Nordgrid and Alpine, and a webhook of each."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    publication = publish(publisher)
    # Receipts come from the ledger; these pages only serve what is stored.
    publication.items.update(receipt=FAKE_RECEIPT)
    nordgrid_endpoint, _ = register_endpoint(acting_user=alice, url="http://127.0.0.1:9/nordgrid")
    alpine_endpoint, _ = register_endpoint(
        acting_user=alpine_admin, url="http://127.0.0.1:9/alpine"
    )
    return Rows(
        publication=publication,
        nordgrid_delivery=Delivery.objects.create(
            publication=publication, organisation=publisher.organisation
        ),
        alpine_delivery=Delivery.objects.create(
            publication=publication, organisation=alpine_admin.organisation
        ),
        nordgrid_endpoint=nordgrid_endpoint,
        alpine_endpoint=alpine_endpoint,
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def publish_form(trust_group, **fields) -> dict:
    return {
        "bundle_text": json.dumps(stix_samples.bundle()),
        "distribution": "trust_groups",
        "trust_groups": [trust_group.id],
        "tlp": "amber",
        **fields,
    }


# --- Anonymous visitors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "publish",
        "publications",
        "publication-detail",
        "inbox",
        "delivery-detail",
        "receipt",
        "webhooks",
        "webhook-delete",
    ],
)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, settings, rows, name):
    url = rows.url(name)
    response = client.post(url) if name == "webhook-delete" else client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{resolve_url(settings.LOGIN_URL)}?next={url}"
    assert WebhookEndpoint.objects.count() == 2


# --- Members of the owning organisation, by role -----------------------------------------


@pytest.mark.parametrize(
    "name, statuses",
    [
        ("home", {"alice": 200, "publisher": 200, "bob": 200}),
        ("publish", {"alice": 200, "publisher": 200, "bob": 403}),
        ("publications", {"alice": 200, "publisher": 200, "bob": 200}),
        ("inbox", {"alice": 200, "publisher": 200, "bob": 200}),
        ("receipt", {"alice": 200, "publisher": 200, "bob": 200}),
        ("webhooks", {"alice": 200, "publisher": 200, "bob": 200}),
    ],
)
@pytest.mark.parametrize("user", ["alice", "publisher", "bob"])
def test_members_of_the_organisation_open_its_pages_by_role(request, rows, name, statuses, user):
    response = client_for(request.getfixturevalue(user)).get(rows.url(name, delivery="nordgrid"))
    assert response.status_code == statuses[user]


@pytest.mark.parametrize("user", ["alice", "publisher", "bob"])
def test_members_of_the_organisation_open_its_publication_page(request, rows, user):
    response = client_for(request.getfixturevalue(user)).get(rows.url("publication-detail"))
    assert response.status_code == 200
    content = response.content.decode()
    assert TITLE in content
    for obj in rows.publication.items.all():
        assert obj.stix_id in content


def test_the_recipient_opens_its_delivery_page_with_receipt_links(rows, alpine_admin):
    response = client_for(alpine_admin).get(rows.url("delivery-detail"))
    assert response.status_code == 200
    content = response.content.decode()
    assert TITLE in content and "Nordgrid Transmission" in content
    for obj in rows.publication.items.all():
        assert f"/inbox/{rows.alpine_delivery.id}/objects/{obj.id}/receipt.json" in content


def test_the_inbox_lists_only_the_organisations_own_deliveries(rows, alpine_admin, charlie):
    alpine_inbox = client_for(alpine_admin).get("/inbox/").content.decode()
    assert f'href="/inbox/{rows.alpine_delivery.id}/"' in alpine_inbox
    assert f'href="/inbox/{rows.nordgrid_delivery.id}/"' not in alpine_inbox
    charlie_inbox = client_for(charlie).get("/inbox/").content.decode()
    assert TITLE not in charlie_inbox
    assert "Nothing delivered yet." in charlie_inbox


def test_the_publication_list_shows_only_the_organisations_own(rows, bob, alpine_admin):
    readers_list = client_for(bob).get("/publications/").content.decode()
    assert f'href="/publications/{rows.publication.id}/"' in readers_list
    recipients_list = client_for(alpine_admin).get("/publications/").content.decode()
    assert TITLE not in recipients_list and "Nothing published yet." in recipients_list


def test_the_receipt_downloads_as_an_attachment(rows, alpine_admin):
    response = client_for(alpine_admin).get(rows.url("receipt"))
    assert response.status_code == 200
    assert response.json() == FAKE_RECEIPT
    first = rows.publication.items.order_by("id").first()
    assert response["Content-Disposition"] == (
        f'attachment; filename="{first.stix_id}.receipt.json"'
    )


def test_a_receipt_is_not_found_before_the_object_is_anchored(rows, alpine_admin):
    rows.publication.items.update(receipt=None)
    assert client_for(alpine_admin).get(rows.url("receipt")).status_code == 404


def test_a_receipt_of_another_publication_is_not_found_through_ones_own_delivery(
    rows, publisher, alpine_admin
):
    other = publish(publisher, distribution="organisation")
    other.items.update(receipt=FAKE_RECEIPT)
    foreign = other.items.first()
    url = f"/inbox/{rows.alpine_delivery.id}/objects/{foreign.id}/receipt.json"
    assert client_for(alpine_admin).get(url).status_code == 404


# --- Other organisations -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, delivery, endpoint",
    [
        ("publication-detail", "nordgrid", "nordgrid"),
        ("delivery-detail", "nordgrid", "nordgrid"),
        ("delivery-detail", "alpine", "nordgrid"),
        ("receipt", "nordgrid", "nordgrid"),
        ("receipt", "alpine", "nordgrid"),
        ("webhook-delete", "nordgrid", "nordgrid"),
        ("webhook-delete", "nordgrid", "alpine"),
    ],
)
def test_another_organisation_gets_not_found_on_every_detail_page(
    rows, charlie, name, delivery, endpoint
):
    url = rows.url(name, delivery=delivery, endpoint=endpoint)
    client = client_for(charlie)
    response = client.post(url) if name == "webhook-delete" else client.get(url)
    assert response.status_code == 404
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.parametrize(
    "user, name, delivery, endpoint",
    [
        ("alpine_admin", "publication-detail", "alpine", "alpine"),
        ("alpine_admin", "delivery-detail", "nordgrid", "alpine"),
        ("alpine_admin", "receipt", "nordgrid", "alpine"),
        ("alpine_admin", "webhook-delete", "alpine", "nordgrid"),
        ("bob", "delivery-detail", "alpine", "nordgrid"),
        ("alice", "webhook-delete", "nordgrid", "alpine"),
    ],
)
def test_a_trust_group_partner_gets_not_found_on_the_other_organisations_rows(
    request, rows, user, name, delivery, endpoint
):
    url = rows.url(name, delivery=delivery, endpoint=endpoint)
    client = client_for(request.getfixturevalue(user))
    response = client.post(url) if name == "webhook-delete" else client.get(url)
    assert response.status_code == 404
    assert WebhookEndpoint.objects.count() == 2


# --- Publishing through the form ---------------------------------------------------------


def test_a_publisher_publishes_through_the_form(
    client, trust_group, publisher, django_capture_on_commit_callbacks
):
    client.force_login(publisher)
    with (
        mock.patch("sharing.tasks.seal_received.delay") as seal,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("/publish/", publish_form(trust_group))
    publication = Publication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/publications/{publication.id}/"
    seal.assert_called_once_with()
    assert publication.organisation == publisher.organisation
    assert list(publication.trust_groups.all()) == [trust_group]
    assert publication.tlp == "amber" and publication.items.count() == 2


def test_a_bundle_file_can_be_uploaded_instead_of_pasted(client, trust_group, publisher):
    client.force_login(publisher)
    upload = SimpleUploadedFile(
        "bundle.json", json.dumps(stix_samples.bundle()).encode(), "application/json"
    )
    response = client.post(
        "/publish/", publish_form(trust_group, bundle_text="", bundle_file=upload)
    )
    assert response.status_code == 302
    assert Publication.objects.get().items.count() == 2


def test_a_reader_cannot_open_or_post_the_publish_form(client, trust_group, bob):
    client.force_login(bob)
    assert client.get("/publish/").status_code == 403
    assert client.post("/publish/", publish_form(trust_group)).status_code == 403
    assert Publication.objects.count() == 0


def test_bad_json_re_renders_the_form_with_400_and_stores_nothing(client, trust_group, publisher):
    client.force_login(publisher)
    response = client.post("/publish/", publish_form(trust_group, bundle_text='{"type": "bun'))
    assert response.status_code == 400
    content = response.content.decode()
    assert "Nothing was published" in content
    assert "{&quot;type&quot;: &quot;bun</textarea>" in content  # the input is kept
    assert Publication.objects.count() == 0
    assert PublishedObject.objects.count() == 0


def test_an_empty_form_asks_for_a_bundle(client, trust_group, publisher):
    client.force_login(publisher)
    response = client.post("/publish/", publish_form(trust_group, bundle_text=""))
    assert response.status_code == 400
    assert "Paste a bundle or upload a file." in response.content.decode()
    assert Publication.objects.count() == 0


def test_an_upload_over_the_size_limit_is_refused(client, settings, trust_group, publisher):
    settings.PUBLISH_MAX_BYTES = 100
    client.force_login(publisher)
    upload = SimpleUploadedFile("bundle.json", json.dumps(stix_samples.bundle()).encode())
    response = client.post(
        "/publish/", publish_form(trust_group, bundle_text="", bundle_file=upload)
    )
    assert response.status_code == 400
    assert "the limit is 100" in response.content.decode()
    assert Publication.objects.count() == 0


def test_the_form_offers_only_the_organisations_trust_groups(client, trust_group, charlie):
    client.force_login(charlie)
    response = client.get("/publish/")
    assert response.status_code == 200
    content = response.content.decode()
    assert trust_group.name not in content
    assert "Your organisation is in no trust group." in content
    response = client.post("/publish/", publish_form(trust_group))
    assert response.status_code == 400
    assert Publication.objects.count() == 0


def test_a_post_without_a_csrf_token_is_refused(trust_group, publisher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(publisher)
    response = client.post("/publish/", publish_form(trust_group))
    assert response.status_code == 403
    assert Publication.objects.count() == 0


# --- Webhooks ----------------------------------------------------------------------------


def test_an_admin_registers_a_webhook_and_sees_the_secret_only_once(client, settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    client.force_login(alice)
    response = client.post(
        "/webhooks/", {"url": "http://127.0.0.1:9/in", "description": "SOC intake"}
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organisation == alice.organisation and endpoint.description == "SOC intake"
    secret = endpoint_secret(endpoint)
    assert secret.startswith("whsec_")
    assert f'<code id="webhook-secret">{secret}</code>' in response.content.decode()

    later = client.get("/webhooks/")
    assert later.status_code == 200
    content = later.content.decode()
    assert "http://127.0.0.1:9/in" in content
    assert secret not in content and 'id="webhook-secret"' not in content


def test_an_unacceptable_webhook_url_is_refused_on_the_page(client, settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(alice)
    response = client.post("/webhooks/", {"url": "http://127.0.0.1:9/in"})
    assert "non-public address" in response.content.decode()
    assert 'id="webhook-secret"' not in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("user", ["bob", "publisher"])
def test_a_reader_or_publisher_cannot_register_a_webhook(request, settings, user):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    client = client_for(request.getfixturevalue(user))
    page = client.get("/webhooks/")
    assert page.status_code == 200
    assert "Register an endpoint" not in page.content.decode()
    response = client.post("/webhooks/", {"url": "http://127.0.0.1:9/in"})
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 0


def test_an_admin_removes_a_webhook(rows, alice):
    response = client_for(alice).post(rows.url("webhook-delete"))
    assert response.status_code == 302 and response["Location"] == "/webhooks/"
    assert list(WebhookEndpoint.objects.all()) == [rows.alpine_endpoint]


def test_a_reader_cannot_remove_a_webhook(rows, bob):
    response = client_for(bob).post(rows.url("webhook-delete"))
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 2


def test_removing_a_webhook_needs_a_post(rows, alice):
    assert client_for(alice).get(rows.url("webhook-delete")).status_code == 405
    assert WebhookEndpoint.objects.count() == 2
