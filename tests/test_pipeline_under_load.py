"""The pipeline's guarantees under concurrency and faults, on the real stack: gunicorn,
PostgreSQL, Redis, a Celery worker process and anvil.

- several organisations publish at once: every delivery arrives, none waits for the sweeper
  (the test worker runs no beat), and PostgreSQL records no deadlock;
- many clients opening a connection per request get no 5xx, and the web's database
  connections stay bounded by its pool;
- with the broker unreachable from the web, a publication is still accepted (202), repeating
  the request returns the original, and the sweeper delivers it once the broker is back.
"""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import connection

from portal.models import Role
from sharing import tasks
from sharing.models import Delivery, Publication, PublicationState, VerificationState
from tests import stix_samples
from tests.anvil import free_port
from tests.conftest import _member
from tests.test_end_to_end import wait_for
from tests.web_server import APPLICATION_NAME, start_gunicorn
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def community_bundle() -> dict:
    indicator = stix_samples.indicator()
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator]}


def publish_request(url: str, headers: dict, bundle: dict, **extra_headers) -> requests.Response:
    return requests.post(
        f"{url}/api/publications/",
        json={"bundle": bundle, "distribution": "community", "tlp": "green"},
        headers={**headers, **extra_headers, "Connection": "close"},
        timeout=30,
    )


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


class ConnectionCounter:
    """Samples, from its own connection, how many connections the web holds to the database."""

    def __init__(self) -> None:
        from django.conf import settings

        database = settings.DATABASES["default"]
        self.database = database["NAME"]
        self.dsn = (
            f"host={database['HOST'] or '127.0.0.1'} port={database['PORT'] or 5432} "
            f"user={database['USER']} dbname={self.database}"
        )
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as sampler:
            while not self.stop.is_set():
                (count,) = sampler.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = %s",
                    [self.database, APPLICATION_NAME],
                ).fetchone()
                self.peak = max(self.peak, count)
                self.stop.wait(0.02)

    def __enter__(self) -> "ConnectionCounter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


def test_organisations_publishing_at_once_are_all_delivered_without_the_sweeper(
    celery_worker, celery_queue, chain, nordgrid, alpine, outsider, token_for, tmp_path
):
    organisations = [nordgrid, alpine, outsider]
    publishers = [
        _member(organisation, f"publisher-{index}@org{index}.example", Role.PUBLISHER)
        for index, organisation in enumerate(organisations)
    ]
    admins = [
        _member(organisation, f"admin-{index}@org{index}.example", Role.ORG_ADMIN)
        for index, organisation in enumerate(organisations)
    ]
    receivers = [WebhookReceiver().start() for _ in organisations]
    per_publisher = 6
    before = deadlocks()
    with start_gunicorn(log=tmp_path / "web.log", queue=celery_queue) as web:
        for admin, receiver in zip(admins, receivers, strict=True):
            registered = requests.post(
                f"{web.url}/api/webhooks/",
                json={"url": receiver.url},
                headers=token_for(admin),
                timeout=10,
            )
            assert registered.status_code == 201, registered.text
        headers = [token_for(publisher) for publisher in publishers]

        def publish(index: int) -> int:
            response = publish_request(web.url, headers[index % 3], community_bundle())
            assert response.status_code == 202, response.text
            return response.json()["id"]

        with ThreadPoolExecutor(6) as pool:
            published = set(pool.map(publish, range(3 * per_publisher)))

    assert len(published) == 3 * per_publisher
    # Community distribution: every organisation's endpoint gets every publication.
    for receiver in receivers:
        wait_for(
            lambda receiver=receiver: len(receiver.requests) >= len(published),
            timeout=90,
            what="every webhook",
        )
        got = {json.loads(r.body)["data"]["publication"]["id"] for r in receiver.requests}
        assert got == published
        receiver.stop()
    wait_for(
        lambda: not Delivery.objects.filter(verification=VerificationState.PENDING).exists(),
        what="every verification",
    )
    assert Delivery.objects.count() == 3 * len(published)
    assert set(Delivery.objects.values_list("verification", flat=True)) == {"verified"}
    assert deadlocks() == before


def test_many_short_lived_clients_get_no_server_error_and_connections_stay_bounded(
    chain, celery_queue, publisher, token_for, tmp_path
):
    headers = token_for(publisher)
    workers, pool_size = 2, 3
    with (
        start_gunicorn(
            log=tmp_path / "web.log",
            queue=celery_queue,
            WEB_WORKERS=str(workers),
            WEB_THREADS="8",
            DATABASE_POOL_MAX_SIZE=str(pool_size),
        ) as web,
        ConnectionCounter() as connections,
    ):

        def call(index: int) -> int:
            if index % 4 == 0:
                return publish_request(web.url, headers, community_bundle()).status_code
            return requests.get(
                f"{web.url}/api/publications/",
                headers={**headers, "Connection": "close"},
                timeout=30,
            ).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(call, range(400)))
        log = web.log.read_text()

    assert [s for s in statuses if s >= 500] == [], log[-3000:]
    assert set(statuses) <= {200, 202}
    assert Publication.objects.count() == 100
    # The pool bounds the web's connections, whatever the number of clients (16 here).
    assert 1 <= connections.peak <= workers * pool_size


def test_publishing_survives_a_broker_outage_and_retries_return_the_original(
    celery_worker,
    celery_queue,
    chain,
    trust_group,
    publisher,
    alpine_admin,
    token_for,
    tmp_path,
    settings,
):
    headers = token_for(publisher)
    bundle = community_bundle()
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    with start_gunicorn(
        log=tmp_path / "web.log", queue=celery_queue, CELERY_BROKER_URL=dead_broker
    ) as web:
        first = publish_request(web.url, headers, bundle, **{"Idempotency-Key": "retry-1"})
        again = publish_request(web.url, headers, bundle, **{"Idempotency-Key": "retry-1"})
        same_bundle = publish_request(web.url, headers, bundle)
        reused_key = publish_request(
            web.url, headers, community_bundle(), **{"Idempotency-Key": "retry-1"}
        )
        log = web.log.read_text()

    assert first.status_code == 202, log[-3000:]
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == same_bundle.json()["id"] == first.json()["id"]
    assert reused_key.status_code == 422
    assert "already used for a different request" in reused_key.json()["errors"][0]
    publication = Publication.objects.get()
    assert publication.state == PublicationState.RECEIVED  # no seal task could be queued
    assert "the sweeper will" in log

    # The broker is back (this process talks to the real one): the sweeper finds the stuck
    # publication and the pipeline takes it from there.
    settings.SWEEP_STUCK_AFTER_SECONDS = 0
    assert tasks.sweep()["sealing"] == 1
    wait_for(
        lambda: (
            Delivery.objects.filter(
                publication=publication, verification=VerificationState.VERIFIED
            ).count()
            == 2
        ),
        what="the delivery after the outage",
    )
