"""The pipeline's services called one by one, against a real anvil node (no worker needed)."""

from unittest import mock

import pytest

from ledger import services as ledger_services
from ledger.models import Checkpoint, Entry, EntryState, KeyEvent, LogHead
from ledger.verify import verify_item
from sharing.models import Delivery, Publication, PublicationState, WebhookMessage
from sharing.services import pipeline, publishing
from tests import stix_samples

pytestmark = pytest.mark.django_db


def publish(user, bundle=None, **fields):
    options = {"distribution": "trust_groups", "tlp": "amber", **fields}
    if options["distribution"] == "trust_groups" and "trust_group_ids" not in options:
        options["trust_group_ids"] = [g.id for g in user.organisation.trust_groups.all()]
    return publishing.publish_bundle(
        acting_user=user, bundle=bundle or stix_samples.bundle(), **options
    )


def anchor_all(timeout: float = 120) -> None:
    """Anchor every sealed entry in this process. `anchor_pending` leaves the work to the
    current sender when another process holds the sender lock (the session's Celery worker may,
    for a while after an end-to-end test): wait for the lock rather than fail."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        ledger_services.anchor_pending()
        if not Entry.objects.exclude(state=EntryState.ANCHORED).exists():
            return
        assert time.monotonic() < deadline, "entries stayed unanchored: is a sender stuck?"
        time.sleep(0.2)


def anchor_key_directory() -> int:
    """Anchor what the log holds before anything is published (the key directory's entries:
    each portal-held key's creation is sealed, ledger.keys) in a checkpoint of its own; return
    its size, the leaf index the first published object gets."""
    anchor_all()
    return LogHead.objects.get().size if LogHead.objects.exists() else 0


def run_pipeline(publication: Publication) -> Publication:
    """Seal, anchor and deliver in this process until the publication is delivered.

    In a test whose transaction commits (live_server), the session's Celery worker may take
    some of the stages itself; either way the publication ends up delivered."""
    import time

    deadline = time.monotonic() + 120
    pipeline.seal_received()
    anchor_all()
    while True:
        pipeline.deliver_anchored()
        publication.refresh_from_db()
        if publication.state == PublicationState.DELIVERED:
            return publication
        assert time.monotonic() < deadline, f"publication stayed {publication.state}"
        time.sleep(0.1)


def test_it_seals_anchors_and_delivers_to_the_trust_group(
    chain, trust_group, publisher, alpine_admin, charlie
):
    base = anchor_key_directory()
    publication = run_pipeline(publish(publisher))

    assert publication.state == PublicationState.DELIVERED
    assert set(Entry.objects.values_list("state", flat=True)) == {EntryState.ANCHORED}
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    assert checkpoint.tree_size == base + 2 and checkpoint.state == "confirmed"
    delivered_to = set(Delivery.objects.values_list("organisation__name", flat=True))
    assert delivered_to == {"Nordgrid Transmission", "Alpine Energy CSIRT"}
    for obj in publication.items.all():
        checks = verify_item(obj.body, obj.receipt, chain=ledger_services.chain_client())
        assert all(c.ok for c in checks), checks


def test_verification_of_a_delivery_is_recorded(chain, trust_group, publisher, alpine_admin):
    publication = run_pipeline(publish(publisher))
    delivery = Delivery.objects.get(organisation=alpine_admin.organisation)
    assert pipeline.verify_delivery(delivery_id=delivery.id) == "verified"
    delivery.refresh_from_db()
    assert delivery.verified_at is not None
    assert all(item["ok"] for item in delivery.verification_report)

    # The portal's copy is tampered with after delivery: the recipient's check catches it.
    obj = publication.items.first()
    obj.body = {**obj.body, "name": "something else"}
    obj.save()
    assert pipeline.verify_delivery(delivery_id=delivery.id) == "verified"  # already done
    assert pipeline.verify_delivery(delivery_id=delivery.id, again=True) == "failed"
    delivery.refresh_from_db()
    failed = [item for item in delivery.verification_report if not item["ok"]]
    # Version 2 receipts carry no unsalted hash: the salted leaf is what no longer matches.
    assert failed[0]["failed"][0]["check"] in {"canonical_hash", "leaf"}


def test_own_organisation_distribution_reaches_only_the_publisher(
    chain, trust_group, publisher, alpine_admin
):
    run_pipeline(publish(publisher, distribution="organisation"))
    assert list(Delivery.objects.values_list("organisation__name", flat=True)) == [
        "Nordgrid Transmission"
    ]


def test_community_distribution_reaches_every_organisation(chain, publisher, alpine, outsider):
    run_pipeline(publish(publisher, distribution="community", tlp="green"))
    assert Delivery.objects.count() == 3


def test_entries_sealed_while_anchoring_go_into_the_next_checkpoint(chain, trust_group, publisher):
    base = anchor_key_directory()
    publish(publisher)
    publish(publisher)
    assert pipeline.seal_received() == 2
    ledger_services.anchor_pending()
    # Group commit: both publications' four objects went into one checkpoint.
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [base + 4, base]
    publish(publisher)
    assert pipeline.seal_received() == 1
    ledger_services.anchor_pending()
    sizes = list(Checkpoint.objects.values_list("tree_size", flat=True))
    assert sizes == [base + 6, base + 4, base]
    assert LogHead.objects.get().size == base + 6


def test_sealing_twice_is_a_no_op(chain, trust_group, publisher):
    publish(publisher)
    assert pipeline.seal_received() == 1
    assert pipeline.seal_received() == 0
    assert Entry.objects.filter(published_object__isnull=False).count() == 2


def test_a_submitted_checkpoint_left_by_a_crash_is_finished(chain, trust_group, publisher):
    publish(publisher)
    pipeline.seal_received()
    # The sender dies right after storing its signed transaction, before broadcasting it.
    with mock.patch("ledger.chain.AnchorChain.send_raw", side_effect=SystemExit):
        with pytest.raises(SystemExit):
            ledger_services.anchor_pending()
    assert Checkpoint.objects.get().state == "submitted"

    ledger_services.anchor_pending()
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == "confirmed" and checkpoint.block_number
    assert set(Entry.objects.values_list("state", flat=True)) == {EntryState.ANCHORED}


def test_the_sweeper_fires_every_stage_that_has_work_nobody_came_for(
    chain, trust_group, publisher, settings
):
    settings.SWEEP_STUCK_AFTER_SECONDS = 0
    publish(publisher)  # its seal task was "lost"
    found = pipeline.sweep()
    assert found["sealing"] and not found["delivering"] and not found["verifying"]
    settings.SWEEP_STUCK_AFTER_SECONDS = 60
    assert not pipeline.sweep()["sealing"]  # not stuck yet: its own task may still come

    settings.SWEEP_STUCK_AFTER_SECONDS = 0
    pipeline.seal_received()
    assert pipeline.sweep()["anchoring"]
    ledger_services.anchor_pending()
    assert pipeline.sweep()["delivering"]
    pipeline.deliver_anchored()
    found = pipeline.sweep()
    assert found["verifying"] and not found["delivering"] and not found["anchoring"]
    pipeline.verify_pending()
    assert not any(pipeline.sweep().values())


def test_the_sweep_task_fires_the_stuck_stages(
    chain, trust_group, publisher, settings, django_capture_on_commit_callbacks
):
    from sharing import tasks

    settings.SWEEP_STUCK_AFTER_SECONDS = 0
    publish(publisher)
    with (
        mock.patch("sharing.tasks.seal_received.delay") as seal,
        mock.patch("sharing.tasks.deliver_anchored.delay") as deliver,
    ):
        counts = tasks.sweep()
    assert counts["sealing"] == 1 and counts["delivering"] == 0
    seal.assert_called_once_with()
    deliver.assert_not_called()


def test_webhook_messages_are_created_for_recipient_endpoints(
    chain, trust_group, publisher, alpine_admin, charlie, settings
):
    from sharing.services.webhooks import register_endpoint

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    register_endpoint(acting_user=alpine_admin, url="http://127.0.0.1:9/in")
    register_endpoint(acting_user=charlie, url="http://127.0.0.1:9/other")
    run_pipeline(publish(publisher))
    assert list(WebhookMessage.objects.values_list("endpoint__url", flat=True)) == [
        "http://127.0.0.1:9/in"
    ]


def test_consecutive_checkpoints_prove_the_log_only_grew(
    chain, trust_group, publisher, client, token_for
):
    from ledger.merkle import ProofError, verify_consistency

    base = anchor_key_directory()
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    headers = token_for(publisher)
    checkpoints = client.get("/api/ledger/checkpoints/", headers=headers).json()["results"]
    assert [c["tree_size"] for c in checkpoints] == [base + 3, base + 2, base]
    # Each root is the one the contract holds on-chain.
    on_chain = ledger_services.chain_client()
    for c in checkpoints:
        assert on_chain.anchored_root(c["tree_size"]).hex() == c["root"]

    first, second = base + 2, base + 3
    answer = client.get(
        f"/api/ledger/consistency/?first={first}&second={second}", headers=headers
    ).json()
    proof = [bytes.fromhex(node) for node in answer["proof"]]
    old, new = bytes.fromhex(checkpoints[1]["root"]), bytes.fromhex(checkpoints[0]["root"])
    verify_consistency(first, second, old, new, proof)
    with pytest.raises(ProofError):
        verify_consistency(first, second, new, old, proof)

    refused = client.get("/api/ledger/consistency/?first=1&second=3", headers=headers)
    assert refused.status_code == 400
    assert "no confirmed checkpoint of size 1" in refused.json()["errors"][0]
    anonymous = client.get("/api/ledger/checkpoints/")
    assert anonymous.status_code == 401


def test_only_one_process_is_the_anchor_sender(db):
    from django.db import connections

    with ledger_services.sender_lock() as first:
        # Another session (as another worker would have) cannot take the lock meanwhile.
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ledger_services.SENDER_LOCK_KEY])
                assert cursor.fetchone()[0] is False
        finally:
            other.close()
    assert first is True
    with ledger_services.sender_lock() as again:
        assert again is True


def test_consumers_can_pin_the_signing_key_and_the_contract(
    chain, trust_group, publisher, alpine_admin, client, token_for, tmp_path
):
    """The directory gives the publisher's key id and the ledger info the contract: with both
    pinned, the verifier accepts the receipt; a wrong pin is refused."""
    from ledger.verify import verify_item

    publication = run_pipeline(publish(publisher))
    headers = token_for(alpine_admin)
    directory = client.get("/api/organisations/", headers=headers).json()["results"]
    nordgrid = next(o for o in directory if o["name"] == "Nordgrid Transmission")
    assert nordgrid["identity"] == publisher.organisation.stix_identity_id
    [key] = nordgrid["signing_keys"]
    ledger_info = client.get("/api/ledger/", headers=headers).json()
    assert ledger_info == {
        "chain_id": 31337,
        "contract": chain.address,
        "deployed_in_block": chain.block_number,
        "log_size": KeyEvent.objects.count() + 2,  # the key directory's entries, two objects
    }

    item = publication.items.first()
    on_chain = ledger_services.chain_client()
    pinned = verify_item(
        item.body,
        item.receipt,
        chain=on_chain,
        expected_key_id=key["key_id"],
        expected_contract=ledger_info["contract"],
    )
    assert all(check.ok for check in pinned), pinned
    other_key = next(o for o in directory if o["name"] == "Alpine Energy CSIRT")["signing_keys"][0]
    wrong = verify_item(
        item.body, item.receipt, chain=on_chain, expected_key_id=other_key["key_id"]
    )
    assert [c.name for c in wrong if not c.ok] == ["signature"]


def test_a_publication_waits_until_every_object_is_anchored(chain, trust_group, publisher):
    publication = publish(publisher)
    pipeline.seal_received()
    ledger_services.anchor_pending()
    first, second = publication.items.select_related("entry")
    Entry.objects.filter(pk=second.entry.pk).update(state=EntryState.LOGGED)
    assert pipeline.deliver_anchored() == (0, [])
    Entry.objects.filter(pk=second.entry.pk).update(state=EntryState.ANCHORED)
    assert pipeline.deliver_anchored()[0] == 1
    publication.refresh_from_db()
    assert publication.state == PublicationState.DELIVERED


def test_an_anchor_dropped_by_a_reorganisation_is_sent_again(
    chain, anvil, trust_group, publisher, settings
):
    """With a confirmation depth of 3, the anchoring block is dropped (anvil reverts to a
    snapshot taken before it) while the sender waits: the same transaction goes out again and
    the checkpoint is confirmed only once it is 3 blocks deep on the new chain."""
    import threading

    from ledger.chain import AnchorChain
    from tests.anvil import rpc

    settings.LEDGER_CONFIRMATIONS = 3
    publish(publisher)
    pipeline.seal_received()
    snapshot = rpc(anvil.url, "evm_snapshot")
    start_block = int(rpc(anvil.url, "eth_blockNumber"), 16)
    stop = threading.Event()
    reorganised = threading.Event()

    def chain_life() -> None:
        while not stop.is_set():
            height = int(rpc(anvil.url, "eth_blockNumber"), 16)
            if not reorganised.is_set() and height > start_block:
                # Let the sender see it mined first (no block comes meanwhile, so it waits at
                # one confirmation), then drop the anchoring block.
                stop.wait(1.5)
                rpc(anvil.url, "evm_revert", snapshot)
                reorganised.set()
            elif reorganised.is_set():
                rpc(anvil.url, "anvil_mine", "0x1")
            stop.wait(0.2)

    life = threading.Thread(target=chain_life, daemon=True)
    life.start()
    try:
        with mock.patch.object(
            AnchorChain, "send_raw", autospec=True, side_effect=AnchorChain.send_raw
        ) as sent:
            ledger_services.anchor_pending()
    finally:
        stop.set()
        life.join(5)
    assert reorganised.is_set()
    assert sent.call_count == 2  # the first broadcast, and the same bytes after the reorg
    assert sent.call_args_list[0].args[1] == sent.call_args_list[1].args[1]
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.state == "confirmed"
    client = ledger_services.chain_client()
    assert client.anchored_root(checkpoint.tree_size) == bytes(checkpoint.root)
    mined = client.mined(checkpoint.transaction_hash)
    assert mined.block_number == checkpoint.block_number and mined.confirmations >= 3
