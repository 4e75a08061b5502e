"""On a 390 px wide phone, no page of the main journeys overflows horizontally: tables stack
or scroll inside their own box, long identifiers wrap."""

import pytest

from portal.models import TokenScope
from portal.services import create_api_token
from sharing.models import Delivery, Publication, PublishedObject
from tests import stix_samples
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def journeys(nordgrid, alpine, trust_group, publisher, alice, alpine_admin, staff):
    indicator = stix_samples.indicator(name="A long indicator name " * 4)
    publication = Publication.objects.create(
        organisation=nordgrid,
        author=publisher,
        title="Spear-phishing against grid operators with a rather long title to wrap",
        distribution="trust_groups",
        tlp="amber",
        bundle_id="bundle--" + "0" * 36,
    )
    publication.trust_groups.add(trust_group)
    PublishedObject.objects.create(
        publication=publication,
        stix_id=indicator["id"],
        stix_type="indicator",
        body=indicator,
        receipt={},
    )
    delivery = Delivery.objects.create(publication=publication, organisation=alpine)
    create_api_token(user=publisher, name="siem-connector-production", scope=TokenScope.PUBLISH)
    return {
        None: ["/login/", "/join/", "/join/sent/"],
        publisher: [
            "/",
            "/publications/",
            f"/publications/{publication.id}/",
            "/publish/",
            "/webhooks/",
            "/tokens/",
            "/trust-groups/",
            f"/trust-groups/{trust_group.id}/",
            "/accounts/2fa/",
        ],
        alice: ["/organisation/members/", "/audit/", "/webhooks/"],
        alpine_admin: ["/inbox/", f"/inbox/{delivery.id}/"],
        staff: ["/staff/join-requests/", "/staff/pipeline/", f"/trust-groups/{trust_group.id}/"],
    }


def test_no_page_of_the_main_journeys_overflows_a_phone_screen(new_context, live_server, journeys):
    overflowing = []
    for user, paths in journeys.items():
        page = new_context(viewport=PHONE).new_page()
        if user is not None:
            login(page, live_server, user, "pw-ops" if user.is_staff else None)
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, (path, response.status)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                overflowing.append(f"{path} ({width} px)")
    assert overflowing == []
