"""The whole path on the real stack: PostgreSQL, Redis, a Celery worker process and anvil.

Publish over REST -> the worker seals, anchors and delivers -> a webhook receiver on 127.0.0.1
gets a Standard-Webhooks-signed POST -> the stand-alone verifier accepts the delivered object and
receipt, and refuses them with a clear reason once tampered with or checked on another chain.
"""

import json
import subprocess
import sys
import time

import pytest
import requests
from standardwebhooks import Webhook

from tests import stix_samples
from tests.anvil import rpc, start_anvil
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_for(condition, *, timeout: float = 60.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def run_verifier(tmp_path, obj, receipt, rpc_url, trust_root=None) -> subprocess.CompletedProcess:
    object_file, receipt_file = tmp_path / "object.json", tmp_path / "receipt.json"
    object_file.write_text(json.dumps(obj))
    receipt_file.write_text(json.dumps(receipt))
    pinning = []
    if trust_root is not None:
        (tmp_path / "trust-root.json").write_text(json.dumps(trust_root))
        pinning = ["--trust-root", str(tmp_path / "trust-root.json")]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger.verify",
            str(object_file),
            str(receipt_file),
            "--rpc-url",
            rpc_url,
            *pinning,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def receiver():
    receiver = WebhookReceiver(fail_first=1).start()
    yield receiver
    receiver.stop()


def test_a_publication_travels_from_publish_to_a_verified_delivery(
    live_server,
    celery_worker,
    chain,
    anvil,
    trust_group,
    publisher,
    alpine_admin,
    charlie,
    token_for,
    receiver,
    tmp_path,
):
    api = live_server.url + "/api"
    registered = requests.post(
        f"{api}/webhooks/",
        json={"url": receiver.url, "description": "SOC intake"},
        headers=token_for(alpine_admin),
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    secret = registered.json()["secret"]

    bundle = stix_samples.bundle()
    published = requests.post(
        f"{api}/publications/",
        json={
            "bundle": bundle,
            "distribution": "trust_groups",
            "tlp": "amber",
            "trust_groups": [trust_group.id],
        },
        headers=token_for(publisher),
        timeout=10,
    )
    assert published.status_code == 202, published.text

    # The receiver answers 503 the first time: the worker must retry, and succeed.
    wait_for(lambda: 204 in receiver.answered, what="the webhook POST", timeout=30)
    delivered = receiver.requests[receiver.answered.index(204)]
    assert receiver.answered[0] == 503
    assert delivered.headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]
    payload = Webhook(secret).verify(delivered.body, delivered.headers)
    assert payload["type"] == "publication.delivered"
    items = payload["data"]["items"]
    # Delivered with their provenance: the publisher's identity and the TLP:AMBER marking.
    assert [item["object"]["id"] for item in items] == [o["id"] for o in bundle["objects"]]
    for item in items:
        assert item["object"]["created_by_ref"] == publisher.organisation.stix_identity_id
        assert item["object"]["object_marking_refs"] == [
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
        ]

    # The verifier, run as a separate program with the trust root the portal offers, accepts
    # the delivered object and its receipt; without a trust root it says UNPINNED and exits 3.
    trust = requests.get(
        f"{api}/ledger/trust-root/?download=1", headers=token_for(alpine_admin), timeout=10
    )
    assert trust.headers["Content-Disposition"] == 'attachment; filename="trust-root.json"'
    trust_root = trust.json()
    obj, receipt = items[0]["object"], items[0]["receipt"]
    unpinned = run_verifier(tmp_path, obj, receipt, anvil.url)
    assert unpinned.returncode == 3
    assert unpinned.stdout.splitlines()[-1] == "UNPINNED"
    verified = run_verifier(tmp_path, obj, receipt, anvil.url, trust_root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "NOT VERIFIED" not in verified.stdout and "VERIFIED" in verified.stdout
    assert "(portal-held key of identity--" in verified.stdout

    # The receipt is version 2: the signature binds the organisation, and there is no unsalted
    # content hash.
    assert receipt["version"] == 2 and "canonical_hash" not in receipt
    assert receipt["signature"]["organisation"] == publisher.organisation.stix_identity_id

    # One byte of the object changed: the salted leaf no longer matches, and it says so.
    tampered = json.loads(json.dumps(obj).replace("203.0.113.7", "203.0.113.8"))
    result = run_verifier(tmp_path, tampered, receipt, anvil.url, trust_root)
    assert result.returncode == 1
    assert "FAIL leaf: leaf mismatch" in result.stdout

    # The inclusion proof altered: the inclusion check fails.
    altered = json.loads(json.dumps(receipt))
    first = altered["log"]["inclusion_proof"][0]
    altered["log"]["inclusion_proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    result = run_verifier(tmp_path, obj, altered, anvil.url, trust_root)
    assert result.returncode == 1
    assert "FAIL inclusion" in result.stdout

    # Another chain with the same contract code at the same address, where that checkpoint was
    # never anchored: the anchor check fails.
    code = rpc(anvil.url, "eth_getCode", receipt["anchor"]["contract"], "latest")
    with start_anvil() as other:
        rpc(other.url, "anvil_setCode", receipt["anchor"]["contract"], code)
        result = run_verifier(tmp_path, obj, receipt, other.url, trust_root)
    assert result.returncode == 1
    assert "FAIL anchor" in result.stdout and "is not a successful call" in result.stdout

    # The recipient's inbox shows the delivery, verified against the chain by the worker.
    inbox = requests.get(f"{api}/inbox/", headers=token_for(alpine_admin), timeout=10).json()
    assert [d["publication"]["title"] for d in inbox["results"]] == [
        "Spear-phishing against grid operators"
    ]
    delivery_url = f"{api}/inbox/{inbox['results'][0]['id']}/"
    detail = wait_for(
        lambda: (
            (d := requests.get(delivery_url, headers=token_for(alpine_admin), timeout=10).json())
            and d["verification"] != "pending"
            and d
        ),
        what="the recipient's verification",
    )
    assert detail["verification"] == "verified", detail["verification_report"]
    assert detail["items"][0]["receipt"] == receipt

    # An organisation outside the trust group got nothing and cannot open the delivery.
    assert (
        requests.get(f"{api}/inbox/", headers=token_for(charlie), timeout=10).json()["count"] == 0
    )
    assert requests.get(delivery_url, headers=token_for(charlie), timeout=10).status_code == 404
