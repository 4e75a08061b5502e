"""Organisation-held keys on the real stack: PostgreSQL, Redis, a Celery worker process, anvil.

An organisation admin logs in with password and authenticator app, registers the public half of
a key made with `python -m ledger.sign --generate-key`; a publisher signs a bundle client-side
with the same command and publishes it over REST; the worker seals it with the client's
signatures, anchors and delivers it; the recipient verifies it with `python -m ledger.verify`
and the portal's trust root, which pins the key as organisation-held. Bundles signed with an
unregistered or a revoked key are refused. The key's registration is itself an anchored entry
of the log, verifiable the same way.
"""

import json
import subprocess
import sys

import pytest
import requests

from sharing import stix
from tests import stix_samples
from tests.conftest import totp_code
from tests.test_end_to_end import run_verifier, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in_with_second_factor(base: str, user) -> requests.Session:
    """Log in through allauth's pages as a browser would: password, then the TOTP code."""
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "login": user.email,
            "password": "pw-" + user.email,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert answer.url.endswith("/accounts/2fa/authenticate/"), answer.url
    answer = session.post(
        f"{base}/accounts/2fa/authenticate/",
        data={"code": totp_code(user), "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/2fa/authenticate/"},
        timeout=10,
    )
    assert answer.status_code == 200 and "/accounts/" not in answer.url, answer.url
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": base})
    return session


def ledger_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ledger.sign", *args], capture_output=True, text=True, timeout=60
    )


def signed_submission(tmp_path, key_file, organisation, trust_group, name: str) -> dict:
    """A bundle of the organisation's own objects, signed with `python -m ledger.sign`."""
    amber = stix.TLP2_MARKING_ID["amber"]
    bundle = stix_samples.bundle(
        *(
            {
                **stix_samples.indicator(f"[ipv4-addr:value = '192.0.2.{n}']"),
                "name": f"{name} {n}",
                "created_by_ref": organisation.stix_identity_id,
                "object_marking_refs": [amber],
            }
            for n in range(2)
        )
    )
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle))
    result = ledger_command(
        str(path),
        "--private-key",
        str(key_file),
        "--organisation",
        organisation.stix_identity_id,
        "--distribution",
        "trust_groups",
        "--tlp",
        "amber",
        "--trust-group",
        str(trust_group.id),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_organisation_signs_client_side_and_the_recipient_verifies_it(
    live_server,
    celery_worker,
    chain,
    anvil,
    trust_group,
    alice,
    publisher,
    alpine_admin,
    token_for,
    tmp_path,
):
    base, api = live_server.url, live_server.url + "/api"
    nordgrid = alice.organisation

    # The organisation makes its key pair on its own machine and registers the public half.
    key_file = tmp_path / "nordgrid.pem"
    generated = ledger_command("--generate-key", str(key_file))
    assert generated.returncode == 0, generated.stderr
    key_id = json.loads(generated.stdout)["key_id"]
    admin = log_in_with_second_factor(base, alice)
    registered = admin.post(
        f"{api}/organisation/keys/",
        json={"public_key": (tmp_path / "nordgrid.pem.pub").read_text()},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["key_id"] == key_id
    assert registered.json()["custody"] == "organisation-held"
    # An API token, even the admin's, cannot register a key.
    refused = requests.post(
        f"{api}/organisation/keys/",
        json={"public_key": "ab" * 32},
        headers=token_for(alice),
        timeout=10,
    )
    assert refused.status_code == 403

    # A publisher publishes the client-signed bundle over REST.
    publisher_token = token_for(publisher)
    body = signed_submission(tmp_path, key_file, nordgrid, trust_group, "signed")
    published = requests.post(
        f"{api}/publications/", json=body, headers=publisher_token, timeout=10
    )
    assert published.status_code == 202, published.text

    # The worker seals (with the client's signatures), anchors and delivers it to Alpine.
    recipient = token_for(alpine_admin)
    inbox = wait_for(
        lambda: requests.get(f"{api}/inbox/", headers=recipient, timeout=10).json()["results"],
        what="the delivery to the trust group",
        timeout=90,
    )
    detail = wait_for(
        lambda: (
            (d := requests.get(f"{api}/inbox/{inbox[0]['id']}/", headers=recipient, timeout=10))
            and d.json()["verification"] != "pending"
            and d.json()
        ),
        what="the recipient's verification",
        timeout=90,
    )
    assert detail["verification"] == "verified", detail["verification_report"]
    delivered = {item["object"]["id"]: item for item in detail["items"]}
    for obj, signed in zip(body["bundle"]["objects"], body["signatures"]["objects"], strict=True):
        item = delivered[obj["id"]]
        assert item["object"] == obj  # stored and delivered verbatim
        receipt = item["receipt"]
        assert receipt["salt"] == signed["salt"] and receipt["leaf"] == signed["leaf"]
        assert receipt["signature"]["value"] == signed["signature"]
        assert receipt["signature"]["key_id"] == key_id
        assert receipt["signature"]["custody"] == "organisation-held"

    # The recipient verifies with the stand-alone verifier and the pinned trust root.
    trust_root = requests.get(f"{api}/ledger/trust-root/", headers=recipient, timeout=10).json()
    [pinned] = [key for key in trust_root["keys"] if key["key_id"] == key_id]
    assert pinned["custody"] == "organisation-held"
    assert pinned["organisation"] == nordgrid.stix_identity_id
    obj = body["bundle"]["objects"][0]
    verified = run_verifier(tmp_path, obj, delivered[obj["id"]]["receipt"], anvil.url, trust_root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"(organisation-held key of {nordgrid.stix_identity_id})" in verified.stdout

    # The organisation sees everything signed under its keys.
    entries = admin.get(f"{api}/organisation/keys/entries/", timeout=10).json()["results"]
    signed_subjects = {e["subject"] for e in entries if e["key_id"] == key_id}
    assert signed_subjects == {s["subject"] for s in body["signatures"]["objects"]}

    # Key transparency: the registration is an anchored entry of the log; its payload and
    # receipt verify like any item, signed by the platform's key.
    event = wait_for(
        lambda: next(
            (
                e
                for e in requests.get(
                    f"{api}/ledger/key-events/?key_id={key_id}", headers=recipient, timeout=10
                ).json()["results"]
                if e["receipt"]
            ),
            None,
        ),
        what="the anchored key registration",
        timeout=60,
    )
    assert event["kind"] == "registered" and event["payload"]["custody"] == "organisation-held"
    checked = run_verifier(tmp_path, event["payload"], event["receipt"], anvil.url, trust_root)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # A bundle signed with a key nobody registered is refused, and nothing is stored.
    stranger = tmp_path / "stranger.pem"
    assert ledger_command("--generate-key", str(stranger)).returncode == 0
    body = signed_submission(tmp_path, stranger, nordgrid, trust_group, "stranger")
    refused = requests.post(f"{api}/publications/", json=body, headers=publisher_token, timeout=10)
    assert refused.status_code == 400
    assert "is not registered" in " ".join(refused.json()["errors"])

    # Once the organisation revokes its key, bundles signed with it are refused; what it signed
    # before stays verifiable.
    revoked = admin.post(
        f"{api}/organisation/keys/{key_id}/revoke/", json={"reason": "laptop lost"}, timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    body = signed_submission(tmp_path, key_file, nordgrid, trust_group, "revoked")
    refused = requests.post(f"{api}/publications/", json=body, headers=publisher_token, timeout=10)
    assert refused.status_code == 400
    assert f"key {key_id} was revoked" in " ".join(refused.json()["errors"])
    trust_root = requests.get(f"{api}/ledger/trust-root/", headers=recipient, timeout=10).json()
    verified = run_verifier(tmp_path, obj, delivered[obj["id"]]["receipt"], anvil.url, trust_root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
