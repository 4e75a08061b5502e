"""Notifications through the real stack: PostgreSQL, Redis, the session's Celery worker
process, anvil, webhook receivers and an SMTP server on 127.0.0.1.

Publishing to a trust group emails exactly the members whose settings match, under the TLP
rules, POSTs to exactly the webhook endpoints whose filters match, and the digest task run by
the worker sends the digest members theirs.
"""

from collections import Counter

import pytest
import requests
from django.test import Client

from portal.models import Role
from sharing import tasks
from sharing.models import EmailNotice, EmailState, NotificationSettings, WebhookMessage
from sharing.services import subscriptions
from tests import stix_samples
from tests.conftest import _member
from tests.test_end_to_end import wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET_TITLE = "Quiet Lynx loader inside substation 7"


@pytest.fixture
def receivers():
    started = {name: WebhookReceiver().start() for name in ("indicators", "red_only", "outsider")}
    yield started
    for receiver in started.values():
        receiver.stop()


def test_publishing_notifies_exactly_the_matching_members_and_webhooks(
    live_server,
    celery_worker,
    chain,
    smtp,
    trust_group,
    publisher,
    alpine_admin,
    bob,
    charlie,
    token_for,
    receivers,
):
    api = live_server.url + "/api"
    ana = _member(alpine_admin.organisation, "ana@alpine.example", Role.READER)

    def register(user, receiver, **filters) -> None:
        response = requests.post(
            f"{api}/webhooks/",
            json={"url": receiver.url, **filters},
            headers=token_for(user),
            timeout=10,
        )
        assert response.status_code == 201, response.text

    register(alpine_admin, receivers["indicators"], stix_types=["indicator"])
    register(alpine_admin, receivers["red_only"], min_tlp="red")
    register(charlie, receivers["outsider"])  # not entitled to the publication

    # Settings saved through the page, as a member would.
    client = Client()
    client.force_login(alpine_admin)
    assert client.post("/notifications/", {"channel": "email"}).status_code == 302
    subscriptions.save_settings(acting_user=bob, channel="email", filters={"labels": ["ics"]})
    subscriptions.save_settings(acting_user=charlie, channel="email", filters={})
    subscriptions.save_settings(acting_user=publisher, channel="none", filters={})
    # Ana keeps the built-in default: a daily digest.
    assert not NotificationSettings.objects.filter(user=ana).exists()

    bundle = stix_samples.bundle(
        stix_samples.indicator(name=SECRET_TITLE, description="seen on the HMI update share")
    )
    published = requests.post(
        f"{api}/publications/",
        json={
            "bundle": bundle,
            "distribution": "trust_groups",
            "tlp": "amber",
            "trust_groups": [trust_group.id],
            "title": SECRET_TITLE,
        },
        headers=token_for(publisher),
        timeout=10,
    )
    assert published.status_code == 202, published.text

    # The worker delivers, POSTs the matching webhook and emails Alpine's admin.
    wait_for(lambda: receivers["indicators"].requests, what="the filtered webhook POST")
    wait_for(lambda: smtp.to(alpine_admin.email), what="the notice email")
    wait_for(
        lambda: not EmailNotice.objects.exclude(state=EmailState.SENT).exists(),
        what="every notice sent",
    )
    assert {r for m in smtp.messages for r in m.recipients} == {alpine_admin.email}
    [mail] = smtp.to(alpine_admin.email)
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.raw_header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert mail.raw_header("List-Unsubscribe").startswith("<http")
    assert SECRET_TITLE not in mail.everything and "HMI update share" not in mail.everything
    assert "New item from Nordgrid Transmission, TLP:AMBER" in mail.part("text/plain")

    # Only the matching endpoint got a message; the others never will (all were decided
    # in the delivery's transaction).
    assert set(WebhookMessage.objects.values_list("endpoint__url", flat=True)) == {
        receivers["indicators"].url
    }
    assert not receivers["red_only"].requests and not receivers["outsider"].requests

    # The digest, run by the worker: Ana gets hers, nobody else gets anything more.
    smtp.clear()
    tasks.send_email_digests.delay()
    wait_for(lambda: smtp.to(ana.email), what="the digest email")
    wait_for(
        lambda: not EmailNotice.objects.exclude(state=EmailState.SENT).exists(),
        what="the digest sent",
    )
    assert {r for m in smtp.messages for r in m.recipients} == {ana.email}
    [digest] = smtp.to(ana.email)
    assert digest.message["Subject"] == "[Energy CTI] Daily digest: 1 new item"
    assert SECRET_TITLE not in digest.everything

    # The publisher sees how many emails each recipient's members were sent (a count only).
    rows = requests.get(
        f"{live_server.url}/api/publications/{published.json()['id']}/recipients/",
        headers=token_for(publisher),
        timeout=10,
    ).json()
    sent = {row["organisation"]: row["emails_sent"] for row in rows if row["emails_sent"]}
    assert sent == Counter([alpine_admin.organisation.name, ana.organisation.name])

    # One click in Ana's mail client unsubscribes her, without logging in.
    url = (
        digest.raw_header("List-Unsubscribe")
        .strip("<>")
        .replace("http://127.0.0.1:8000", live_server.url)
    )
    clicked = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10)
    assert clicked.status_code == 200
    assert NotificationSettings.objects.get(user=ana).channel == "none"
