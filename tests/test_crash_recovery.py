"""A worker killed with -9 in the middle of the pipeline, and its queued tasks lost: once a new
worker (with the sweeper) runs, every publication is still sealed, anchored, delivered and
verified, and no webhook message is lost."""

import os
import signal
import time
import uuid

import pytest
import redis

from ledger.models import Checkpoint, Entry, EntryState
from portal.celery import app
from sharing.models import Delivery, Publication, WebhookMessage
from sharing.services import publishing, webhooks
from tests import stix_samples
from tests.conftest import start_worker, stop_worker
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PUBLICATIONS = 12


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def private_queue():
    """A queue of this test's own, so no other worker of the session takes its tasks."""
    previous = app.conf.task_default_queue
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous


def test_a_killed_worker_and_lost_tasks_delay_work_and_lose_nothing(
    anvil, chain, trust_group, publisher, alpine_admin, private_queue, tmp_path, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver = WebhookReceiver().start()
    webhooks.register_endpoint(acting_user=alpine_admin, url=receiver.url)
    log = tmp_path / "worker.log"
    worker = start_worker(queue=private_queue, rpc_url=anvil.url, log=log)
    try:
        for _ in range(PUBLICATIONS):
            publishing.publish_bundle(
                acting_user=publisher,
                bundle=stix_samples.bundle(),
                distribution="trust_groups",
                tlp="amber",
                trust_group_ids=[trust_group.id],
            )
        wait_until(lambda: receiver.requests, timeout=60, what="the first webhook")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    # Whatever was queued or being worked on is gone for good.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(private_queue, "unacked", "unacked_index")
    assert Delivery.objects.filter(verification="pending").exists() or (
        WebhookMessage.objects.filter(state="pending").exists()
        or Publication.objects.exclude(state="delivered").exists()
    ), "the worker finished everything before it was killed: the test proves nothing"

    recovered = start_worker(
        queue=private_queue,
        rpc_url=anvil.url,
        log=log,
        beat=True,
        SWEEP_INTERVAL_SECONDS="1",
        SWEEP_STUCK_AFTER_SECONDS="2",
    )
    try:
        wait_until(
            # In pipeline order: once every publication is delivered no new delivery or
            # message appears, so the later checks cannot miss rows created meanwhile.
            lambda: (
                not Publication.objects.exclude(state="delivered").exists()
                and not Delivery.objects.filter(verification="pending").exists()
                and not WebhookMessage.objects.filter(state="pending").exists()
            ),
            timeout=120,
            what="the sweeper to finish the pipeline",
        )
    finally:
        stop_worker(recovered)
        receiver.stop()

    assert set(Entry.objects.values_list("state", flat=True)) == {EntryState.ANCHORED}
    assert Entry.objects.filter(published_object__isnull=False).count() == 2 * PUBLICATIONS
    assert not Checkpoint.objects.exclude(state="confirmed").exists()
    assert Delivery.objects.count() == 2 * PUBLICATIONS
    assert set(Delivery.objects.values_list("verification", flat=True)) == {"verified"}
    assert set(WebhookMessage.objects.values_list("state", flat=True)) == {"succeeded"}
    # At-least-once delivery: every message arrived; a repeat carries the same webhook-id.
    received_ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert received_ids == set(WebhookMessage.objects.values_list("message_id", flat=True))
