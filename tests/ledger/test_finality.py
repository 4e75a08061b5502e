"""Checkpoints are watched until final and anchored again when a reorganisation drops them.

The reorganisation is made on the session's anvil with `evm_snapshot` / `evm_revert`: the
chain goes back to a block before the anchor, as if another branch without it had won. The
contract of each test is fresh (the `chain` fixture), so other tests see no difference.
"""

from datetime import UTC, datetime

import pytest

from ledger import finality
from ledger import services as ledger_services
from ledger.models import Checkpoint, CheckpointState
from portal.audit.models import AuditAction, AuditEvent
from sharing.models import Delivery, VerificationState
from sharing.services import pipeline
from tests import stix_samples
from tests.anvil import rpc
from tests.sharing.test_pipeline import anchor_key_directory, publish, run_pipeline

FROZEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return FROZEN


def snapshot(anvil) -> str:
    return rpc(anvil.url, "evm_snapshot")


def reorganise(anvil, snapshot_id: str) -> None:
    """Another branch, without the blocks since the snapshot and a few blocks longer, becomes
    the canonical chain."""
    assert rpc(anvil.url, "evm_revert", snapshot_id) is True
    rpc(anvil.url, "anvil_mine", 3)


def made_here(base: int):
    """The checkpoints of what the test published: those after the key directory's."""
    return Checkpoint.objects.filter(tree_size__gt=base)


def receipt_anchors(publication) -> set[tuple[str, int]]:
    return {
        (item.receipt["anchor"]["transaction_hash"], item.receipt["anchor"]["block_number"])
        for item in publication.items.all()
    }


@pytest.mark.django_db
def test_a_checkpoint_becomes_final_at_the_configured_depth(
    chain, anvil, trust_group, publisher, settings
):
    settings.LEDGER_FINALITY_DEPTH = 3
    run_pipeline(publish(publisher))
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.block_hash.startswith("0x") and len(checkpoint.block_hash) == 66

    rpc(anvil.url, "anvil_mine", 1)  # 2 blocks deep: not final yet
    report = finality.watch_finality(now=frozen_clock)
    assert (report.watched, report.finalized) == (1, [])
    checkpoint.refresh_from_db()
    assert checkpoint.finalized_at is None

    rpc(anvil.url, "anvil_mine", 1)  # 3 deep
    report = finality.watch_finality(now=frozen_clock)
    assert report.finalized == [checkpoint.id]
    checkpoint.refresh_from_db()
    assert checkpoint.finalized_at == FROZEN
    # A final checkpoint is not watched any more.
    assert finality.watch_finality(now=frozen_clock).watched == 0


@pytest.mark.django_db
def test_the_checkpoint_list_shows_the_block_and_finality(
    chain, anvil, trust_group, publisher, settings, client, token_for, django_assert_num_queries
):
    settings.LEDGER_FINALITY_DEPTH = 1
    base = anchor_key_directory()
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    finality.watch_finality(now=frozen_clock)
    headers = token_for(publisher)
    # Token, its last use, count, page: the same however many checkpoints.
    with django_assert_num_queries(4):
        answer = client.get("/api/ledger/checkpoints/", headers=headers)
    listed = answer.json()["results"]
    stored = {c.tree_size: c for c in Checkpoint.objects.all()}
    # Newest first; the key directory's checkpoint comes last.
    assert [c["tree_size"] for c in listed] == [base + 3, base + 2, base]
    for c in listed:
        assert c["block_hash"] == stored[c["tree_size"]].block_hash
        assert c["finalized_at"] == "2026-11-30T12:00:00Z"


@pytest.mark.django_db
def test_the_finalized_tag_of_the_node_can_decide(chain, anvil, trust_group, publisher, settings):
    settings.LEDGER_FINALITY_DEPTH = "finalized"
    run_pipeline(publish(publisher))
    # anvil finalises nothing on its own until blocks are 64 deep (its default slots per epoch).
    head = ledger_services.chain_client().block_number()
    finalized = ledger_services.chain_client().final_block("finalized")
    report = finality.watch_finality(now=frozen_clock)
    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.block_number <= finalized) == bool(report.finalized)
    assert finalized <= head


@pytest.mark.django_db
def test_a_checkpoint_dropped_by_a_reorganisation_is_anchored_again(
    chain,
    anvil,
    trust_group,
    publisher,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.LEDGER_FINALITY_DEPTH = 50
    # The key directory's checkpoint stays on the branch that wins.
    base = anchor_key_directory()
    before = snapshot(anvil)
    publication = run_pipeline(publish(publisher))
    assert pipeline.verify_pending() == 2
    assert set(Delivery.objects.values_list("verification", flat=True)) == {"verified"}
    lost = made_here(base).get()
    on_chain = ledger_services.chain_client()
    assert on_chain.latest_checkpoint() == (base + 2, bytes(lost.root))

    reorganise(anvil, before)

    assert on_chain.mined(lost.transaction_hash) is None
    assert on_chain.latest_checkpoint()[0] == base
    # What a recipient sees now: its receipt cites a transaction the chain no longer has.
    delivery = Delivery.objects.order_by("id").first()
    assert pipeline.verify_delivery(delivery_id=delivery.id, again=True) == "failed"

    with django_capture_on_commit_callbacks() as callbacks:
        report = finality.watch_finality(now=frozen_clock)

    assert report.reanchored == [lost.id] and report.finalized == []
    checkpoint = made_here(base).get()
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert (checkpoint.tree_size, bytes(checkpoint.root)) == (lost.tree_size, bytes(lost.root))
    # Signed again at the same nonce with the same (empty) proof, the transaction may well be
    # byte for byte the lost one: what changed is the block that holds it.
    assert (checkpoint.block_number, checkpoint.block_hash) != (lost.block_number, lost.block_hash)
    assert checkpoint.reorganised == [
        {
            "transaction_hash": lost.transaction_hash,
            "block_number": lost.block_number,
            "block_hash": lost.block_hash,
            "detected_at": FROZEN.isoformat(),
        }
    ]
    assert on_chain.latest_checkpoint() == (base + 2, bytes(lost.root))
    assert on_chain.mined(checkpoint.transaction_hash).block_hash == checkpoint.block_hash
    assert callbacks, "nobody was told to reissue the receipts"

    # The listener's task: receipts issued anew, deliveries verified again against the chain.
    assert pipeline.reissue_receipts(checkpoint_id=checkpoint.id) == 2
    assert receipt_anchors(publication) == {(checkpoint.transaction_hash, checkpoint.block_number)}
    assert set(Delivery.objects.values_list("verification", flat=True)) == {"pending"}
    assert pipeline.verify_pending() == 2
    assert set(Delivery.objects.values_list("verification", flat=True)) == {"verified"}
    event = AuditEvent.objects.get(action=AuditAction.RECEIPTS_REISSUED)
    assert event.detail["lost"] == [lost.transaction_hash]
    assert event.detail["receipts"] == 2
    # Idempotent: nothing left to reissue, nothing recorded twice.
    assert pipeline.reissue_receipts(checkpoint_id=checkpoint.id) == 0
    assert AuditEvent.objects.filter(action=AuditAction.RECEIPTS_REISSUED).count() == 1


@pytest.mark.django_db
def test_the_same_transaction_mined_again_in_the_new_branch_is_adopted(
    chain, anvil, trust_group, publisher, settings, django_capture_on_commit_callbacks
):
    settings.LEDGER_FINALITY_DEPTH = 50
    before = snapshot(anvil)
    publication = run_pipeline(publish(publisher))
    lost = Checkpoint.objects.get()
    reorganise(anvil, before)
    # The new branch includes the very same signed transaction, in another block.
    rpc(anvil.url, "eth_sendRawTransaction", "0x" + bytes(lost.raw_transaction).hex())

    with django_capture_on_commit_callbacks() as callbacks:
        report = finality.watch_finality(now=frozen_clock)

    checkpoint = Checkpoint.objects.get()
    assert report.moved == [checkpoint.id] and report.reanchored == []
    assert checkpoint.state == CheckpointState.CONFIRMED
    assert checkpoint.transaction_hash == lost.transaction_hash
    assert checkpoint.block_number != lost.block_number
    assert checkpoint.reorganised[0]["block_hash"] == lost.block_hash
    assert len(callbacks) == 1
    assert pipeline.reissue_receipts(checkpoint_id=checkpoint.id) == 2
    assert receipt_anchors(publication) == {(lost.transaction_hash, checkpoint.block_number)}


@pytest.mark.django_db
def test_later_checkpoints_are_anchored_again_in_order(
    chain, anvil, trust_group, publisher, settings
):
    settings.LEDGER_FINALITY_DEPTH = 50
    base = anchor_key_directory()
    before = snapshot(anvil)
    run_pipeline(publish(publisher))
    run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))
    assert sorted(made_here(base).values_list("tree_size", flat=True)) == [base + 2, base + 3]

    reorganise(anvil, before)
    report = finality.watch_finality(now=frozen_clock)

    first, second = made_here(base).order_by("tree_size")
    assert report.reanchored == [first.id, second.id]
    assert {first.state, second.state} == {CheckpointState.CONFIRMED}
    on_chain = ledger_services.chain_client()
    # The second went on from the first again: the contract checked its consistency proof.
    assert on_chain.latest_checkpoint() == (base + 3, bytes(second.root))
    assert on_chain.anchored_root(base + 2) == bytes(first.root)
    assert first.block_number < second.block_number


@pytest.mark.django_db
def test_a_later_checkpoint_on_the_new_branch_takes_over_the_lost_ones_entries(
    chain, anvil, trust_group, publisher, settings
):
    """The sender anchored a later checkpoint (from the contract's latest, before the lost
    one) before the watch noticed: the lost checkpoint cannot be anchored again (sizes only
    grow), its entries move to the later one, which covers them."""
    settings.LEDGER_FINALITY_DEPTH = 50
    base = anchor_key_directory()
    before = snapshot(anvil)
    run_pipeline(publish(publisher))
    lost = made_here(base).get()
    reorganise(anvil, before)
    second = run_pipeline(publish(publisher, bundle=stix_samples.bundle(stix_samples.indicator())))

    report = finality.watch_finality(now=frozen_clock)

    later = made_here(base).get(state=CheckpointState.CONFIRMED)
    assert report.superseded == [lost.id] and later.tree_size == base + 3
    lost.refresh_from_db()
    assert lost.state == CheckpointState.FAILED
    assert f"moved to checkpoint {base + 3}" in lost.error
    assert set(lost.entries.values_list("id", flat=True)) == set()
    assert later.entries.count() == 3
    assert second.items.count() == 1


@pytest.mark.django_db
def test_a_reanchor_that_timed_out_is_finished_by_the_next_watch(
    chain, anvil, trust_group, publisher, settings
):
    from unittest import mock

    from ledger.chain import ChainError

    settings.LEDGER_FINALITY_DEPTH = 50
    base = anchor_key_directory()
    before = snapshot(anvil)
    run_pipeline(publish(publisher))
    reorganise(anvil, before)
    with mock.patch("ledger.finality._await_confirmation", side_effect=ChainError("slow")):
        with pytest.raises(ChainError):
            finality.watch_finality(now=frozen_clock)
    checkpoint = made_here(base).get()
    assert checkpoint.state == CheckpointState.SUBMITTED and len(checkpoint.reorganised) == 1

    report = finality.watch_finality(now=frozen_clock)

    checkpoint.refresh_from_db()
    assert report.reanchored == [checkpoint.id]
    assert checkpoint.state == CheckpointState.CONFIRMED and len(checkpoint.reorganised) == 1
    assert ledger_services.chain_client().anchored_root(base + 2) == bytes(checkpoint.root)


@pytest.mark.django_db
def test_the_watch_leaves_the_work_to_a_busy_sender(chain, trust_group, publisher):
    run_pipeline(publish(publisher))
    from unittest import mock

    with mock.patch("ledger.finality.sender_lock") as lock:
        lock.return_value.__enter__.return_value = False
        report = finality.watch_finality(now=frozen_clock)
    assert report.busy and report.watched == 0


def test_a_finality_setting_that_is_neither_a_depth_nor_finalized_is_refused():
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEDGER_FINALITY_DEPTH": "0"}
    result = subprocess.run(
        [sys.executable, "-c", "import portal.settings"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert 'LEDGER_FINALITY_DEPTH must be a positive number of blocks or "finalized"' in (
        result.stderr
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_reanchors_on_the_worker_and_deliveries_verify_again(
    celery_worker, chain, anvil, trust_group, publisher
):
    """Through the real stack: the Celery worker runs the finality watch, the re-anchor
    listener's task reissues the receipts and the verify stage checks them on chain again."""
    from ledger import tasks as ledger_tasks
    from tests.test_end_to_end import wait_for

    # The worker may have anchored the key directory's entries in more than one checkpoint.
    base = anchor_key_directory()
    before = snapshot(anvil)
    publication = run_pipeline(publish(publisher))
    pipeline.verify_pending()
    lost = made_here(base).get()
    reorganise(anvil, before)

    ledger_tasks.watch_finality.delay()

    def reverified() -> bool:
        checkpoint = made_here(base).get()
        return (
            checkpoint.state == CheckpointState.CONFIRMED
            and checkpoint.reorganised
            and receipt_anchors(publication)
            == {(checkpoint.transaction_hash, checkpoint.block_number)}
            and set(Delivery.objects.values_list("verification", flat=True))
            == {VerificationState.VERIFIED}
            and AuditEvent.objects.filter(action=AuditAction.RECEIPTS_REISSUED).exists()
        )

    wait_for(reverified, timeout=90, what="the checkpoint anchored again and verified copies")
    checkpoint = made_here(base).get()
    assert checkpoint.reorganised[0]["transaction_hash"] == lost.transaction_hash
    assert checkpoint.block_hash != lost.block_hash
    assert ledger_services.chain_client().latest_checkpoint() == (base + 2, bytes(lost.root))
