"""One organisation's slow webhook receivers must not stall anyone else's delivery.

Through the real stack (PostgreSQL, Redis, anvil, the session's two worker pools): an
organisation's endpoints are a receiver that trickles its answer one byte every few seconds and
one that never answers. While their POSTs hang, a publication to another organisation is
sealed, anchored, delivered and POSTed to that organisation's webhook. Asserted by the order of
events at the receivers, never by timing.
"""

import pytest

from portal.celery import app, route_task, webhook_queue
from portal.models import Role
from sharing import tasks
from tests.conftest import _member
from tests.sharing.test_pipeline import publish
from tests.webhook_receiver import Events, SlowReceiver, WebhookReceiver

pytestmark = pytest.mark.e2e


def test_webhook_sends_are_routed_to_their_own_queue(settings):
    settings.CELERY_WEBHOOK_QUEUE = ""
    queue = f"{app.conf.task_default_queue}.webhooks"
    for task in (tasks.send_webhooks, tasks.send_webhook):
        assert route_task(task.name, (), {}, {}) == {"queue": queue} == {"queue": webhook_queue()}
    for task in (tasks.seal_received, tasks.deliver_anchored, tasks.verify_deliveries):
        assert route_task(task.name, (), {}, {}) is None  # the default queue
    settings.CELERY_WEBHOOK_QUEUE = "hooks"
    assert route_task(tasks.send_webhook.name, (), {}, {}) == {"queue": "hooks"}


def test_every_task_of_the_project_has_soft_and_hard_time_limits(settings):
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"ledger.tasks.anchor", "sharing.tasks.send_webhooks", "sharing.tasks.sweep"} <= set(
        ours
    )
    for name, task in ours.items():
        assert task.soft_time_limit and task.time_limit, name
        assert task.soft_time_limit < task.time_limit, name
    # The anchor task waits for confirmations: its limit covers several transaction timeouts.
    anchor = app.tasks["ledger.tasks.anchor"]
    assert anchor.soft_time_limit >= 2 * settings.LEDGER_TX_TIMEOUT_SECONDS
    # A send task may take a round of WEBHOOK_TIMEOUT_SECONDS per WEBHOOK_CONCURRENCY messages.
    rounds = -(-settings.WEBHOOK_BATCH_SIZE // settings.WEBHOOK_CONCURRENCY)
    assert tasks.send_webhooks.soft_time_limit >= rounds * settings.WEBHOOK_TIMEOUT_SECONDS


@pytest.fixture
def slow_receivers():
    events = Events()
    started = [
        SlowReceiver("trickle", "trickle", events).start(),
        SlowReceiver("hang", "hang", events).start(),
    ]
    yield events, started
    for receiver in started:
        receiver.stop()


def test_a_hanging_organisation_does_not_stall_delivery_to_another(
    transactional_db,
    celery_worker,
    chain,
    settings,
    trust_group,
    publisher,
    alpine_admin,
    charlie,
    slow_receivers,
):
    from sharing.services.webhooks import register_endpoint

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    events, (trickle, hang) = slow_receivers
    healthy = WebhookReceiver(name="alpine", events=events).start()
    try:
        for receiver in (trickle, hang):
            register_endpoint(acting_user=charlie, url=receiver.url)
        register_endpoint(acting_user=alpine_admin, url=healthy.url)
        outsider_publisher = _member(charlie.organisation, "pia@elsewhere.example", Role.PUBLISHER)

        # Two publications to the slow organisation alone: two send tasks, each stuck on a
        # trickling and a hanging POST (on one shared pool they would take all its processes).
        for round_ in (1, 2):
            publish(outsider_publisher, distribution="organisation")
            for name in ("trickle", "hang"):
                assert events.wait_for_count(f"{name}:accepted", round_, timeout=90), events.seen

        # Meanwhile a publication to Nordgrid and Alpine goes all the way to Alpine's webhook.
        publish(publisher)
        assert events.wait_for("alpine:received", timeout=50), events.seen

        # ... while every slow POST was (and is) still waiting for its answer.
        received_at = events.seen.index("alpine:received")
        assert not [e for e in events.seen[:received_at] if e.endswith(":dropped")], events.seen
        assert events.seen.count("trickle:accepted") == events.seen.count("hang:accepted") == 2
    finally:
        healthy.stop()
