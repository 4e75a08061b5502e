"""Suspension, recipient status and acknowledgements on the real stack: PostgreSQL, Redis, a
Celery worker process and anvil.

A community publication reaches the active recipient (inbox and a signed webhook POST to its
receiver on 127.0.0.1) while the suspended organisation gets no inbox row and its receiver
gets nothing; the recipient acknowledges over the API and the publisher sees, per recipient,
delivery, webhook status, the portal's verification and that acknowledgement.
"""

import pytest
import requests

from portal.services import suspend_organisation
from sharing.models import Delivery, Publication, PublicationState, WebhookMessage
from tests import stix_samples
from tests.test_end_to_end import wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receivers():
    started = [WebhookReceiver().start(), WebhookReceiver().start()]
    yield started
    for receiver in started:
        receiver.stop()


def test_a_suspended_organisation_receives_nothing_and_the_publisher_sees_each_recipient(
    live_server,
    celery_worker,
    chain,
    publisher,
    alpine_admin,
    charlie,
    staff,
    token_for,
    receivers,
):
    api = live_server.url + "/api"
    active, suspended = receivers
    for user, receiver in ((alpine_admin, active), (charlie, suspended)):
        registered = requests.post(
            f"{api}/webhooks/", json={"url": receiver.url}, headers=token_for(user), timeout=10
        )
        assert registered.status_code == 201, registered.text
    charlie_token = token_for(charlie)
    suspend_organisation(
        acting_user=staff, organisation=charlie.organisation, reason="Compromised tenant"
    )
    refused = requests.get(f"{api}/inbox/", headers=charlie_token, timeout=10)
    assert refused.status_code == 401 and "is suspended" in refused.json()["detail"]

    published = requests.post(
        f"{api}/publications/",
        json={"bundle": stix_samples.bundle(), "distribution": "community", "tlp": "green"},
        headers=token_for(publisher),
        timeout=10,
    )
    assert published.status_code == 202, published.text
    publication_id = published.json()["id"]

    wait_for(lambda: 204 in active.answered, what="the active recipient's webhook", timeout=60)
    wait_for(
        lambda: Publication.objects.get(pk=publication_id).state == PublicationState.DELIVERED,
        what="the delivery",
    )
    recipients = set(
        Delivery.objects.filter(publication_id=publication_id).values_list(
            "organisation_id", flat=True
        )
    )
    assert recipients == {publisher.organisation_id, alpine_admin.organisation_id}
    assert not WebhookMessage.objects.filter(
        publication_id=publication_id, endpoint__organisation=charlie.organisation
    ).exists()
    assert suspended.requests == []

    # The recipient checks its copy and acknowledges it over the API.
    admin_token = token_for(alpine_admin)
    delivery = requests.get(f"{api}/inbox/?unread=1", headers=admin_token, timeout=10).json()
    (entry,) = delivery["results"]
    assert entry["unread"] is True and entry["publication"]["id"] == publication_id
    acknowledged = requests.post(
        f"{api}/inbox/{entry['id']}/acknowledge/",
        json={"outcome": "verified", "comment": "Matches our own verification."},
        headers=admin_token,
        timeout=10,
    )
    assert acknowledged.status_code == 200, acknowledged.text

    # The publisher sees each recipient's status once the worker has verified the copies.
    url = f"{api}/publications/{publication_id}/recipients/"
    rows = wait_for(
        lambda: (
            (r := requests.get(url, headers=token_for(publisher), timeout=10).json())
            and all(row["verification"] != "pending" for row in r)
            and r
        ),
        what="the recipients' verification",
    )
    by_name = {row["organisation"]: row for row in rows}
    assert set(by_name) == {publisher.organisation.name, alpine_admin.organisation.name}
    theirs = by_name[alpine_admin.organisation.name]
    assert theirs["verification"] == "verified"
    assert theirs["webhook_summary"] == "succeeded"
    assert theirs["webhooks"][0]["attempts"] == 1
    assert theirs["acknowledgement"]["outcome"] == "verified"
    assert theirs["acknowledgement"]["comment"] == "Matches our own verification."
    assert theirs["acknowledgement"]["by"] == alpine_admin.email
    assert by_name[publisher.organisation.name]["acknowledgement"] is None
    # Only the publisher sees this.
    other = requests.get(url, headers=admin_token, timeout=10)
    assert other.status_code == 404
