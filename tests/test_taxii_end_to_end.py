"""TAXII 2.1 on the real stack, with the OASIS `taxii2-client` as the client: PostgreSQL,
Redis, a Celery worker process that seals, anchors and delivers, and anvil.

Nordgrid's publisher adds a bundle to the trust group's collection and polls its status until
the pipeline has delivered it; Alpine (same group) reads it with filters and page by page,
fetches a receipt and checks it with the stand-alone verifier; an organisation outside the
group finds neither the collection nor its objects.
"""

import json
import subprocess
import sys

import pytest
import requests
from taxii2client.v21 import MEDIA_TYPE_TAXII_V21, ApiRoot, Collection, Server, as_pages

from ledger.models import SigningKey
from tests import stix_samples

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def verify(tmp_path, obj, receipt, *options: str) -> subprocess.CompletedProcess:
    """The stand-alone verifier, run as a consumer would."""
    object_file, receipt_file = tmp_path / "object.json", tmp_path / "receipt.json"
    object_file.write_text(json.dumps(obj))
    receipt_file.write_text(json.dumps(receipt))
    command = [sys.executable, "-m", "ledger.verify", str(object_file), str(receipt_file)]
    return subprocess.run([*command, *options], capture_output=True, text=True, timeout=60)


def raw_token(token_for, user, **options) -> str:
    return token_for(user, **options)["Authorization"].split()[1]


def test_taxii_clients_publish_read_and_verify_through_the_portal(
    live_server,
    celery_worker,
    chain,
    anvil,
    trust_group,
    publisher,
    alpine_admin,
    charlie,
    token_for,
    tmp_path,
):
    discovery = f"{live_server.url}/taxii2/"
    # Nordgrid's tool uses a Bearer token; Alpine's only knows Basic (the token as password).
    nordgrid = Server(discovery, auth=BearerAuth(raw_token(token_for, publisher)))
    alpine = Server(discovery, user=alpine_admin.email, password=raw_token(token_for, alpine_admin))
    outsider = Server(discovery, auth=BearerAuth(raw_token(token_for, charlie)))

    # Discovery, the API root and the collections, for two organisations.
    assert nordgrid.api_roots[0].url == f"{live_server.url}/taxii2/api/"
    assert nordgrid.default.versions == [MEDIA_TYPE_TAXII_V21]
    mine = {c.alias: c for c in nordgrid.default.collections}
    theirs = {c.alias: c for c in alpine.default.collections}
    group_alias = f"trust-group-{trust_group.pk}"
    assert list(mine) == ["organisation", "community", group_alias]
    assert list(theirs) == ["organisation", "community", group_alias]
    assert mine[group_alias].id == theirs[group_alias].id
    assert mine["organisation"].title == "Nordgrid Transmission"
    assert theirs["organisation"].title == "Alpine Energy CSIRT"
    assert mine[group_alias].can_write is True and theirs[group_alias].can_write is True

    # Add a bundle's objects and poll the status until the worker has delivered them.
    indicator = stix_samples.indicator()
    report = stix_samples.report([indicator["id"]])
    status = mine[group_alias].add_objects(
        {"objects": [indicator, report]}, poll_interval=0.2, timeout=90
    )
    assert status.status == "complete", status.pendings
    assert (status.total_count, status.success_count, status.failure_count) == (2, 2, 0)
    assert {s["id"] for s in status.successes} == {indicator["id"], report["id"]}

    # Alpine reads with filters, and page by page: the objects as published, stamped with
    # Nordgrid's identity and the TLP marking.
    from sharing.models import PublishedObject

    indicator, report = (
        PublishedObject.objects.get(stix_id=obj["id"]).body for obj in (indicator, report)
    )
    assert indicator["created_by_ref"] == report["created_by_ref"]
    group = theirs[group_alias]
    assert group.get_objects(type="indicator")["objects"] == [indicator]
    assert group.get_objects(id=report["id"], version="last")["objects"] == [report]
    assert group.get_objects(spec_version="2.0")["objects"] == []
    added = group.get_manifest()["objects"]
    assert [m["id"] for m in added] == [indicator["id"], report["id"]]
    later = group.get_objects(added_after=added[0]["date_added"])
    assert later["objects"] == []  # both were added at the same delivery
    pages = list(as_pages(group.get_objects, per_request=1))
    assert [len(p["objects"]) for p in pages] == [1, 1]
    assert [p["objects"][0] for p in pages] == [indicator, report]
    assert group.get_object(indicator["id"])["objects"] == [indicator]
    assert group.object_versions(indicator["id"])["versions"] == [indicator["modified"]]

    # The receipt of the fetched object, beside the objects endpoint, checked by the verifier.
    receipts = group._conn.get(
        f"{group.url}receipts/{indicator['id']}/", headers={"Accept": MEDIA_TYPE_TAXII_V21}
    )["receipts"]
    assert [(r["id"], r["version"]) for r in receipts] == [(indicator["id"], indicator["modified"])]
    key = SigningKey.objects.get(owner=publisher.organisation.stix_identity_id)
    fetched = group.get_object(indicator["id"])["objects"][0]
    receipt = receipts[0]["receipt"]
    # Pinned by the portal's trust root (a consumer compares it with other members' copies).
    from ledger.pinning import trust_root_document

    anchor = receipt["anchor"]
    trust_root = trust_root_document(contract=anchor["contract"], chain_id=anchor["chain_id"])
    assert key.key_id in json.dumps(trust_root)
    (tmp_path / "trust-root.json").write_text(json.dumps(trust_root))
    pinned = ["--rpc-url", anvil.url, "--trust-root", str(tmp_path / "trust-root.json")]
    verified = verify(tmp_path, fetched, receipt, *pinned)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "NOT VERIFIED" not in verified.stdout and "VERIFIED" in verified.stdout
    tampered = {**fetched, "name": "something else"}
    refused = verify(tmp_path, tampered, receipt, *pinned)
    # A version 2 receipt carries no unsalted hash: the salted leaf no longer matches.
    assert refused.returncode == 1 and "FAIL leaf" in refused.stdout

    # An organisation outside the group: not in its list, and 404 when it names it.
    assert [c.alias for c in outsider.default.collections] == ["organisation", "community"]
    stranger = Collection(group.url, auth=BearerAuth(raw_token(token_for, charlie)))
    with pytest.raises(requests.HTTPError) as refused:
        stranger.get_objects()
    assert refused.value.response.status_code == 404
    assert outsider.default.collections[1].get_objects()["objects"] == []
    api_root = ApiRoot(
        f"{live_server.url}/taxii2/api/", auth=BearerAuth(raw_token(token_for, charlie))
    )
    with pytest.raises(requests.HTTPError) as missing:
        api_root.get_status(status.id)
    assert missing.value.response.status_code == 404
