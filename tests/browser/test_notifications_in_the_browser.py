"""A member chooses in the browser to be emailed for each AMBER-or-above publication of one
organisation; the next such publication reaches the real SMTP server as a notice that names
no content, and the publisher's page counts the email for the member's organisation."""

import pytest
from playwright.sync_api import expect

from sharing.models import EmailNotice, EmailState, NotificationSettings, Publication
from sharing.services import publishing
from tests import stix_samples
from tests.browser.conftest import login
from tests.test_end_to_end import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TITLE = "Rogue firmware image on the Alpine relays"


def test_a_member_subscribes_in_the_browser_and_is_emailed_under_the_tlp_rules(
    page, live_server, celery_worker, chain, trust_group, publisher, bob, nordgrid, smtp_server
):
    smtp_server.clear()
    login(page, live_server, bob)
    page.goto(f"{live_server.url}/notifications/")
    expect(page.get_by_text("your organisation's defaults apply")).to_be_visible()
    page.get_by_label("An email for each publication").check()
    page.get_by_label(nordgrid.name).check()
    page.get_by_label("Only at least this sensitive").select_option("amber")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("your organisation's defaults apply")).to_have_count(0)
    saved = NotificationSettings.objects.get(user=bob)
    assert (saved.channel, saved.publisher_ids, saved.min_tlp) == ("email", [nordgrid.id], "amber")

    green = publishing.publish_bundle(
        acting_user=publisher,
        bundle=stix_samples.bundle(stix_samples.indicator()),
        distribution="organisation",
        tlp="green",
        title="Below the member's threshold",
    )
    amber = publishing.publish_bundle(
        acting_user=publisher,
        bundle=stix_samples.bundle(stix_samples.indicator()),
        distribution="organisation",
        tlp="amber",
        title=TITLE,
    )
    wait_for(
        lambda: (
            Publication.objects.filter(id__in=[green.id, amber.id], state="delivered").count() == 2
            and not EmailNotice.objects.exclude(state=EmailState.SENT).exists()
            and smtp_server.to(bob.email)
        ),
        what="both publications delivered and the notice sent",
    )

    [mail] = smtp_server.to(bob.email)  # the GREEN one is below the member's threshold
    assert TITLE not in mail.everything  # nothing above GREEN goes into an email
    assert "TLP:AMBER" in mail.part("text/plain")

    # The publisher sees one email sent to its own organisation's members for the AMBER item.
    page.context.clear_cookies()
    login(page, live_server, publisher)
    page.goto(f"{live_server.url}/publications/{amber.id}/")
    recipients = page.locator("table.recipients")
    expect(recipients.locator("th", has_text="Emails sent")).to_be_visible()
    expect(
        recipients.locator("tbody tr", has_text=nordgrid.name).locator("td").nth(3)
    ).to_have_text("1")
