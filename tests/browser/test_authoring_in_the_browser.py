"""Writing threat intelligence in a real chromium: the forms, the live pattern check, the
graph, publishing to a trust group through the real worker and chain, revoking, and the
recipient's inbox; then a corpus of hostile text through every authoring field and import."""

import json
import re
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from sharing.models import DraftObject, ObjectLineage, Publication
from tests.browser.conftest import login
from tests.browser.test_publishing_in_the_browser import reload_until, watch_for_script

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_for_csp(page: Page) -> list[str]:
    """Console messages about the Content Security Policy refusing something."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


def open_new_object_form(page: Page, label: str) -> None:
    page.get_by_role("link", name=label, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New")


def test_an_analyst_authors_publishes_and_revokes_and_the_recipient_sees_it(
    page, new_context, live_server, celery_worker, chain, trust_group, publisher, alpine_admin
):
    csp = watch_for_csp(page)
    login(page, live_server, publisher)
    page.get_by_role("link", name="Drafts", exact=True).click()
    page.fill("#id_title", "Winter substation campaign")
    page.get_by_role("button", name="New draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Winter substation campaign")

    # 1. An indicator, with a pattern error shown as it is typed and on saving, then fixed
    # with the observable builder.
    open_new_object_form(page, "Indicator")
    page.fill("#id_name", "C2 of the winter campaign")
    page.get_by_label("malicious-activity").check()
    page.fill("#id_pattern", "[ipv4-addr:value = ")
    status = page.locator("#pattern-status")
    expect(status).to_contain_text("✘")
    expect(status).to_contain_text("column")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-pattern .errorlist")).to_contain_text("column")
    assert DraftObject.objects.count() == 0

    page.fill("#id_pattern", "")
    page.select_option("#observable-kind", "ipv4-addr:value")
    page.fill("#observable-value", "203.0.113.7")
    page.get_by_role("button", name="Add to pattern").click()
    expect(page.locator("#id_pattern")).to_have_value("[ipv4-addr:value = '203.0.113.7']")
    expect(status).to_have_text("✔ Valid STIX pattern")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Indicator saved")

    # 2. A malware.
    open_new_object_form(page, "Malware")
    page.fill("#id_name", "GridWiper")
    page.get_by_label("wiper", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Malware saved")

    # 3. indicator --indicates--> malware; the spec's types for that pair are offered.
    indicator = DraftObject.objects.get(stix_type="indicator")
    malware = DraftObject.objects.get(stix_type="malware")
    open_new_object_form(page, "Relationship")
    page.select_option("#id_source_ref", indicator.stix_id)
    page.select_option("#id_target_ref", malware.stix_id)
    offered = page.locator("#vocab-relationship_type option")
    expect(offered.first).to_have_attribute("value", "indicates")
    page.fill("#id_relationship_type", "indicates")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("table.draft-objects tbody tr")).to_have_count(3)

    # The graph is drawn by the vendored cytoscape: two nodes, one edge.
    page.wait_for_function("window.draftGraph !== undefined")
    assert page.evaluate("window.draftGraph.nodes().length") == 2
    assert page.evaluate("window.draftGraph.edges()[0].data('label')") == "indicates"

    # Publish to the trust group: sealed, anchored, delivered.
    page.check("input[name=distribution][value=trust_groups]")
    page.get_by_label(trust_group.name).check()
    page.select_option("#id_tlp", "amber")
    page.get_by_role("button", name="Publish").click()
    expect(page).to_have_url(re.compile(r"/publications/\d+/$"))
    reload_until(page, "Delivered", selector="span.state")
    original = Publication.objects.get()
    for item in original.items.all():
        assert item.body["created_by_ref"] == publisher.organisation.stix_identity_id

    recipient = new_context().new_page()
    login(recipient, live_server, alpine_admin)
    recipient.get_by_role("link", name="Inbox", exact=True).click()
    row = recipient.locator("tbody tr", has_text="Winter substation campaign")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    reload_until(recipient, "verified on chain", selector=".badge")

    # The publisher revokes the malware: a new version, delivered to the same recipients.
    page.get_by_role("button", name=f"Revoke {malware.stix_id}").click()
    expect(page.locator(".flash")).to_contain_text("Revoked")
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoked: GridWiper")
    reload_until(page, "Delivered", selector="span.state")
    assert ObjectLineage.objects.get(stix_id=malware.stix_id).revoked

    recipient.get_by_role("link", name="Inbox", exact=True).click()
    revoked_row = recipient.locator("tbody tr", has_text="Revoked: GridWiper")
    expect(revoked_row).to_have_count(1)
    expect(revoked_row.locator(".version-revoked")).to_have_text("revoked")
    expect(
        recipient.locator("tbody tr", has_text="Winter substation campaign").locator(
            ".version-revoked"
        )
    ).to_have_text("revoked")
    revoked_row.get_by_role("link").click()
    reload_until(recipient, "verified on chain", selector=".badge")
    expect(recipient.locator("tbody")).to_contain_text("revoked")
    assert csp == []


# --- Hostile text ---------------------------------------------------------------------------

SCRIPT = "<script>window.__xss=1</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(2)>'
LINK = '<a href="javascript:alert(4)">click</a>'
CORPUS = [SCRIPT, IMG, SVG, LINK]

# What each kind of field gets: free text fields get the corpus, structured ones a hostile
# value that still has the structure (so the object is stored and shown).
SPECIAL = {
    "pattern": "[url:value = '<script>window.__xss=1</script>']",
    "kill_chain_phases": "mitre-attack: <img src=x onerror=alert(1)>",
    "external_references": "<b>source</b> | <svg onload=alert(2)> | javascript:alert(3)",
    "cve": "",
    "attack_technique": "",
    "pattern_type": "stix",
    "relationship_type": "related-to",
}
TYPES = [
    "Malware",
    "Indicator",
    "Threat actor",
    "Intrusion set",
    "Campaign",
    "Attack pattern",
    "Vulnerability",
    "Infrastructure",
    "Tool",
    "Course of action",
    "Identity (organisation, sector)",
    "Location",
    "Note",
    "Report",
    "Relationship",
    "Sighting",
]


def fill_hostile(page: Page) -> None:
    fields = page.locator("form.stix-form").locator("input[type=text][name], textarea[name]")
    for index in range(fields.count()):
        field = fields.nth(index)
        name = field.get_attribute("name")
        value = SPECIAL.get(name, CORPUS[index % len(CORPUS)])
        field.fill(value)
    for index, select in enumerate(page.locator("form.stix-form select[name]").all()):
        select.select_option(index=1 + index)  # a relationship needs two different objects
    refs = page.locator("form.stix-form input[type=checkbox][name$=_refs]")
    if refs.count():
        refs.first.check()


def assert_harmless(page: Page, dialogs: list[str]) -> None:
    # The publication page's own relationship graph (svg.object-graph) is drawn by the server.
    hostile = "main img, main svg:not(.object-graph), main a[href^=javascript]"
    assert page.locator(hostile).count() == 0
    assert page.locator('main script:not([type="application/json"])').count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_hostile_text_in_every_authoring_field_and_import_is_shown_as_text(
    page, live_server, publisher
):
    dialogs = watch_for_script(page)
    login(page, live_server, publisher)
    page.goto(f"{live_server.url}/drafts/")
    page.fill("#id_title", SCRIPT)
    page.get_by_role("button", name="New draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SCRIPT)

    for label in TYPES:
        open_new_object_form(page, label)
        fill_hostile(page)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash")).to_contain_text("saved")
        assert_harmless(page, dialogs)
    assert DraftObject.objects.count() == len(TYPES)

    # The draft lists, previews and draws them as text.
    main = page.locator("main")
    expect(main.locator("table.draft-objects")).to_contain_text(SCRIPT)
    page.get_by_text("Preview the STIX bundle").click()
    expect(main.locator("details pre")).to_contain_text("javascript:alert(3)")
    expect(main.locator("details pre")).to_contain_text(IMG)
    page.wait_for_function("window.draftGraph !== undefined")
    assert_harmless(page, dialogs)

    # Every edit form shows the stored values back as text.
    for item in DraftObject.objects.all():
        page.goto(f"{live_server.url}/drafts/{item.draft_id}/objects/{item.id}/")
        assert_harmless(page, dialogs)
    expect(page.locator("form.stix-form")).to_be_visible()

    # Published, the publication page shows them as text too.
    page.goto(f"{live_server.url}/drafts/{item.draft_id}/")
    page.check("input[name=distribution][value=organisation]")
    with mock.patch("sharing.tasks.seal_received.delay"):
        page.get_by_role("button", name="Publish").click()
        expect(page).to_have_url(re.compile(r"/publications/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(SCRIPT)
    expect(page.locator("tbody")).to_contain_text("[url:value = '<script>window.__xss=1</script>']")
    assert_harmless(page, dialogs)

    # Import: a MISP event carrying the same corpus.
    event = {
        "Event": {
            "uuid": "0f3c2b1a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "info": SCRIPT,
            "date": "2026-11-18",
            "timestamp": "1763456400",
            "Attribute": [
                {
                    "uuid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "type": "domain",
                    "category": "Network activity",
                    "value": "x.example",
                    "comment": IMG,
                    "to_ids": True,
                    "timestamp": "1763456400",
                }
            ],
            "Galaxy": [
                {
                    "uuid": "698774c7-8022-42c4-917f-8d6e4f06ada3",
                    "name": "Threat Actor",
                    "type": "threat-actor",
                    "namespace": "misp",
                    "GalaxyCluster": [
                        {
                            "uuid": "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182",
                            "type": "threat-actor",
                            "value": SVG,
                            "tag_name": 'misp-galaxy:threat-actor="x"',
                            "description": LINK,
                        }
                    ],
                }
            ],
        }
    }
    page.goto(f"{live_server.url}/drafts/import/misp/")
    page.fill("#id_event_text", json.dumps(event))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"MISP: {SCRIPT}")
    expect(page.locator("table.draft-objects")).to_contain_text(SVG)
    page.get_by_text("Preview the STIX bundle").click()
    expect(page.locator("details pre")).to_contain_text('href=\\"javascript:alert(4)\\"')
    assert_harmless(page, dialogs)
