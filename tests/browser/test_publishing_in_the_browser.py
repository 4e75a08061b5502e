"""Publishing and receiving in a real chromium, against the live server, worker and chain.

The publisher pastes a bundle into the Publish page; the Celery worker seals, anchors on anvil
and delivers; the recipient sees it in the inbox, verified on chain, and downloads a receipt.
"""

import json
import re
import time
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from sharing.models import Delivery, Publication, PublishedObject
from sharing.services import publishing
from tests import stix_samples
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS_NAME = "<img src=x onerror=alert(1)><script>window.__xss=1</script>"


def reload_until(page: Page, text: str, *, selector: str, timeout: float = 60.0) -> None:
    """Reload the page until `selector` shows `text`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if text in page.locator(selector).first.inner_text():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} never showed {text!r}: {page.content()[-2000:]}")
        time.sleep(0.5)
        page.reload()


def fill_publish_form(page: Page, live_server, bundle: dict, trust_group) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", name="Publish a STIX 2.1 bundle")).to_be_visible()
    page.fill("#id_bundle_text", json.dumps(bundle))
    page.check("input[name=distribution][value=trust_groups]")
    page.get_by_label(trust_group.name).check()
    page.select_option("#id_tlp", "amber")
    page.get_by_role("button", name="Publish").click()


def test_a_bundle_published_in_the_browser_reaches_the_recipient_verified(
    page, new_context, live_server, celery_worker, chain, trust_group, publisher, alpine_admin
):
    bundle = stix_samples.bundle()
    login(page, live_server, publisher)
    fill_publish_form(page, live_server, bundle, trust_group)

    expect(page).to_have_url(re.compile(r"/publications/\d+/$"))
    publication = Publication.objects.get()
    assert page.url == f"{live_server.url}/publications/{publication.id}/"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Spear-phishing against grid operators"
    )
    expect(page.locator(".flash")).to_contain_text("Published")
    reload_until(page, "Delivered", selector="span.state")
    assert publication.items.count() == 2

    recipient = new_context().new_page()
    login(recipient, live_server, alpine_admin)
    recipient.get_by_role("link", name="Inbox", exact=True).click()
    row = recipient.locator("tbody tr", has_text="Spear-phishing against grid operators")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Nordgrid Transmission")
    row.get_by_role("link").click()
    delivery = Delivery.objects.get(organisation=alpine_admin.organisation)
    expect(recipient).to_have_url(f"{live_server.url}/inbox/{delivery.id}/")
    reload_until(recipient, "verified on chain", selector=".badge")

    with recipient.expect_download() as download_info:
        recipient.get_by_role("link", name="receipt.json").first.click()
    download = download_info.value
    first = publication.items.order_by("id").first()
    assert download.suggested_filename == f"{first.stix_id}.receipt.json"
    with open(download.path()) as file:
        receipt = json.load(file)
    assert receipt["type"] == "cti-portal-receipt"
    first.refresh_from_db()
    assert receipt == first.receipt


def test_a_bundle_with_an_invalid_pattern_shows_the_errors_and_publishes_nothing(
    page, live_server, trust_group, publisher
):
    broken = stix_samples.indicator(pattern="[ipv4-addr:value = ")
    bundle = stix_samples.bundle(broken)
    login(page, live_server, publisher)
    fill_publish_form(page, live_server, bundle, trust_group)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was published")
    expect(alert.locator("li").first).to_contain_text(f"{broken['id']}: Pattern failed")
    expect(page).to_have_url(f"{live_server.url}/publish/")
    assert Publication.objects.count() == 0
    assert PublishedObject.objects.count() == 0


def test_another_organisation_opening_a_delivery_gets_a_not_found_page(
    page, live_server, trust_group, publisher, alpine_admin, charlie
):
    with mock.patch("sharing.tasks.seal_received.delay"):
        publication = publishing.publish_bundle(
            acting_user=publisher,
            bundle=stix_samples.bundle(),
            distribution="trust_groups",
            tlp="amber",
            trust_group_ids=[trust_group.id],
        )
    delivery = Delivery.objects.create(
        publication=publication, organisation=alpine_admin.organisation
    )
    url = f"{live_server.url}/inbox/{delivery.id}/"

    login(page, live_server, charlie)
    response = page.goto(url)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("body")).not_to_contain_text("Spear-phishing against grid operators")

    # The organisation it was delivered to finds the same URL in its inbox.
    page.context.clear_cookies()
    login(page, live_server, alpine_admin)
    page.get_by_role("link", name="Inbox", exact=True).click()
    link = page.get_by_role("link", name="Spear-phishing against grid operators")
    expect(link).to_have_attribute("href", f"/inbox/{delivery.id}/")


def watch_for_script(page: Page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def test_it_escapes_stix_text_written_by_the_publisher(page, live_server, trust_group, publisher):
    dialogs = watch_for_script(page)
    bundle = stix_samples.bundle(stix_samples.indicator(name=XSS_NAME))
    login(page, live_server, publisher)
    # No worker here: the publication stays "received", which is all this page needs.
    with mock.patch("sharing.tasks.seal_received.delay"):
        fill_publish_form(page, live_server, bundle, trust_group)
        expect(page).to_have_url(re.compile(r"/publications/\d+/$"))

    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    expect(page.locator("tbody")).to_contain_text(XSS_NAME)
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_it_escapes_stix_text_in_the_publication_list_and_the_inbox(
    page, live_server, trust_group, publisher
):
    dialogs = watch_for_script(page)
    with mock.patch("sharing.tasks.seal_received.delay"):
        publication = publishing.publish_bundle(
            acting_user=publisher,
            bundle=stix_samples.bundle(stix_samples.indicator(name=XSS_NAME)),
            distribution="organisation",
            tlp="amber",
        )
    Delivery.objects.create(publication=publication, organisation=publisher.organisation)
    login(page, live_server, publisher)

    expect(page.locator("main tbody")).to_contain_text(XSS_NAME)  # home: the latest deliveries
    page.get_by_role("link", name="Publications", exact=True).click()
    expect(page.get_by_role("link", name=XSS_NAME)).to_have_count(1)
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("link", name=XSS_NAME)).to_have_count(1)
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
