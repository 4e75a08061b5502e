"""The platform admins' pipeline overview: counts by state, stuck rows, checkpoints and failing
webhook messages, read-only, in a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sharing.models import Publication, WebhookEndpoint, WebhookMessage

pytestmark = pytest.mark.django_db


def test_it_shows_states_stuck_rows_and_failing_webhooks(
    client, staff, nordgrid, publisher, django_assert_num_queries
):
    long_ago = timezone.now() - timedelta(hours=1)
    stuck = Publication.objects.create(
        organisation=nordgrid,
        author=publisher,
        title="Stuck in sealing",
        distribution="organisation",
        tlp="green",
        state_changed_at=long_ago,
    )
    Publication.objects.create(
        organisation=nordgrid,
        author=publisher,
        title="Fresh",
        distribution="organisation",
        tlp="green",
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=nordgrid, url="https://hooks.example/down", encrypted_secret="v1:x"
    )
    WebhookMessage.objects.create(endpoint=endpoint, publication=stuck, state="failed", attempts=8)
    client.force_login(staff)
    client.get("/staff/pipeline/")
    with django_assert_num_queries(12):
        page = client.get("/staff/pipeline/").content.decode()
    assert "Received: <strong>2</strong>" in page
    stuck_table = page[page.index("Stuck publications") : page.index("Latest checkpoints")]
    assert "Stuck in sealing" in stuck_table and "Fresh" not in stuck_table
    failing = page[page.index("Failing webhook messages") :]
    assert "https://hooks.example/down" in failing and "Gave up" in failing


def test_organisation_admins_cannot_see_it(client, alice):
    client.force_login(alice)
    assert client.get("/staff/pipeline/").status_code == 403
