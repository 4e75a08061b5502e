"""A reader of the receiving organisation finds a delivered indicator by its IP address,
follows its relationship to the malware, downloads the indicator with its receipt, and the
project's verifier, run as a separate program, accepts the download."""

import json
import subprocess
import sys
import zipfile
from unittest import mock

import pytest
from playwright.sync_api import expect

from ledger.models import SigningKey
from portal.models import Role
from sharing.models import Delivery, VerificationState
from sharing.services import publishing
from tests import stix_samples
from tests.browser.conftest import login
from tests.conftest import _member
from tests.sharing.test_reading import campaign_bundle
from tests.test_end_to_end import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IP = "192.0.2.44"


def test_a_reader_finds_follows_downloads_and_verifies(
    page, live_server, celery_worker, chain, anvil, trust_group, publisher, alpine, tmp_path
):
    reader = _member(alpine, "rita@alpine.example", Role.READER)
    indicator, malware, relationship = campaign_bundle(ip=IP)
    publication = publishing.publish_bundle(
        acting_user=publisher,
        bundle=stix_samples.bundle(indicator, malware, relationship),
        distribution="trust_groups",
        tlp="amber",
        trust_group_ids=[trust_group.id],
    )
    wait_for(
        lambda: Delivery.objects.filter(
            publication=publication,
            organisation=alpine,
            verification=VerificationState.VERIFIED,
        ).exists(),
        what="the verified delivery to Alpine",
    )

    login(page, live_server, reader)
    page.get_by_role("link", name="Inbox", exact=True).click()
    page.get_by_label("Find an IP address, domain or hash in your inbox").fill(IP)
    page.get_by_role("button", name="Search").click()
    results = page.locator("main table tbody tr")
    expect(results).to_have_count(1)
    results.get_by_role("link", name=f"C2 at {IP}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"C2 at {IP}")
    expect(page.locator(".badge.verified")).to_contain_text("verified on chain")
    page.locator("ul.relationships").get_by_role("link", name="GridRAT").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("GridRAT")
    expect(page.locator("ul.relationships")).to_contain_text(f"C2 at {IP}")
    page.locator("ul.relationships").get_by_role("link", name=f"C2 at {IP}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"C2 at {IP}")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download object + receipt (.zip)").click()
    archive_path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(archive_path)
    assert archive_path.name.startswith(indicator["id"])
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(tmp_path / "download")
    folder = tmp_path / "download"
    object_file = next(
        p
        for p in folder.iterdir()
        if p.name.endswith(".json") and "receipt" not in p.name and p.name != "trust-root.json"
    )
    receipt_file = next(folder.glob("*.receipt.json"))

    # The downloaded trust root pins the publisher's key and the contract.
    key_id = SigningKey.objects.get(owner=publisher.organisation.stix_identity_id).key_id
    trust_root = json.loads((folder / "trust-root.json").read_text())
    assert chain.address.lower() in json.dumps(trust_root).lower()
    assert key_id in json.dumps(trust_root)
    command = [sys.executable, "-m", "ledger.verify", str(object_file), str(receipt_file)]
    command += ["--rpc-url", anvil.url, "--trust-root", str(folder / "trust-root.json")]
    verified = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.rstrip().endswith("\nVERIFIED")

    # The verifier is not a rubber stamp: the same download with the IP changed fails.
    object_file.write_text(object_file.read_text().replace(IP, "192.0.2.45"))
    tampered = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert tampered.returncode == 1
    assert "NOT VERIFIED" in tampered.stdout


def test_a_pending_publication_page_reloads_itself_within_the_csp(
    page, live_server, trust_group, publisher
):
    # No worker: the publication stays "received", so the page keeps asking to be reloaded.
    with mock.patch("sharing.tasks.seal_received.delay"):
        publication = publishing.publish_bundle(
            acting_user=publisher,
            bundle=stix_samples.bundle(*campaign_bundle()),
            distribution="organisation",
            tlp="amber",
        )
    login(page, live_server, publisher)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    url = f"{live_server.url}/publications/{publication.id}/"
    page.goto(url)
    expect(page.locator(".refresh-note")).to_be_visible()
    with page.expect_navigation(url=url, timeout=15_000):
        pass  # the page's own static script reloads it
    assert errors == []  # among them, any script the Content Security Policy refused
