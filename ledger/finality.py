"""Finality of anchored checkpoints: watched until final, anchored again after a reorganisation.

A checkpoint is confirmed once its transaction is LEDGER_CONFIRMATIONS blocks deep
(ledger.services). On a chain with probabilistic finality a reorganisation may still take that
block away (DESIGN.md, "Finality"), so confirmed checkpoints are watched until their block is
final: LEDGER_FINALITY_DEPTH blocks deep, or at or below the node's `finalized` block tag when
LEDGER_FINALITY_DEPTH is "finalized" (a QBFT chain is final at depth 1).

When the transaction is gone from the canonical chain (no receipt any more, or a receipt in a
block with another hash), the same checkpoint (tree size, root) is anchored again by the single
sender, with an RFC 9162 section 2.1.4 consistency proof from whatever the contract now holds
as latest; the contract accepts it only if the log still extends that. The lost transaction is
kept in `Checkpoint.reorganised`, and once the new one is confirmed the re-anchor listeners
(ledger.services.on_checkpoint_reanchored) reissue the receipts that cited the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ledger.chain import AnchorChain, ChainError, MinedTx
from ledger.models import Checkpoint, CheckpointState, Entry
from ledger.services import (
    _await_confirmation,
    _reanchor_listeners,
    _replace_transaction,
    chain_client,
    sender_lock,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class FinalityReport:
    """What one watch did, by checkpoint id."""

    busy: bool = False  # another process is the anchor sender: nothing was looked at
    watched: int = 0
    finalized: list[int] = field(default_factory=list)
    reanchored: list[int] = field(default_factory=list)  # anchored again, confirmed
    moved: list[int] = field(default_factory=list)  # re-included in another block
    superseded: list[int] = field(default_factory=list)  # covered by a later checkpoint


def finality_setting() -> int | str:
    """LEDGER_FINALITY_DEPTH as the chain client takes it: a depth, or "finalized"."""
    value = settings.LEDGER_FINALITY_DEPTH
    if value == "finalized":
        return value
    return int(value)


def watch_finality(*, now: Clock = timezone.now) -> FinalityReport:
    """Look at every confirmed checkpoint that is not final yet, oldest first.

    A checkpoint whose transaction is still in the canonical chain is marked final (at
    `now()`) once its block is final. One whose transaction a reorganisation took away is
    anchored again (see the module docstring) and waited for, as anchoring does. Runs as the
    single anchor sender: returns at once with `busy` when another process holds the sender
    lock (the next run looks again). Raises ChainError when the node cannot be reached or the
    new anchor is not confirmed in time; what was recorded so far stays, the next run resumes
    (a re-anchor left submitted is also finished by the next anchoring round).
    """
    report = FinalityReport()
    with sender_lock() as acquired:
        if not acquired:
            report.busy = True
            return report
        chain = chain_client()
        for pending in Checkpoint.objects.filter(state=CheckpointState.SUBMITTED).exclude(
            reorganised=[]
        ):
            # Anchored again by an earlier watch that gave up waiting: finish it first (its
            # entries are anchored, so no sweep would start an anchoring round for it).
            if _await_confirmation(chain, pending):
                report.reanchored.append(pending.id)
        final_block = chain.final_block(finality_setting())
        watched = Checkpoint.objects.filter(
            state=CheckpointState.CONFIRMED, finalized_at__isnull=True
        ).order_by("tree_size")
        for checkpoint in watched:
            report.watched += 1
            mined = chain.mined(checkpoint.transaction_hash)
            if mined is not None and mined.succeeded and not checkpoint.block_hash:
                # Confirmed before block hashes were recorded: its block is taken as seen now.
                if mined.block_number == checkpoint.block_number:
                    checkpoint.block_hash = mined.block_hash
                    Checkpoint.objects.filter(pk=checkpoint.pk).update(block_hash=mined.block_hash)
            if _still_canonical(checkpoint, mined):
                if mined.block_number <= final_block:
                    _finalize(checkpoint, now=now)
                    report.finalized.append(checkpoint.id)
                continue
            _recover(chain, checkpoint, mined, now=now, report=report)
    return report


def _still_canonical(checkpoint: Checkpoint, mined: MinedTx | None) -> bool:
    return (
        mined is not None
        and mined.succeeded
        and mined.block_number == checkpoint.block_number
        and mined.block_hash == checkpoint.block_hash
    )


def _finalize(checkpoint: Checkpoint, *, now: Clock) -> None:
    with transaction.atomic():
        Checkpoint.objects.filter(pk=checkpoint.pk, finalized_at__isnull=True).update(
            finalized_at=now()
        )
        if checkpoint.reorganised:
            # Receipts were reissued when it was confirmed again; a call lost then (a crash
            # before the listener ran) is made again now. Reissuing is idempotent.
            _notify_reanchored(checkpoint.id)
    logger.info("checkpoint %s is final", checkpoint.tree_size)


def _notify_reanchored(checkpoint_id: int) -> None:
    for listener in _reanchor_listeners:
        transaction.on_commit(lambda listener=listener: listener(checkpoint_id))


def _recover(
    chain: AnchorChain,
    checkpoint: Checkpoint,
    mined: MinedTx | None,
    *,
    now: Clock,
    report: FinalityReport,
) -> None:
    """The checkpoint's transaction left the canonical chain: record the lost anchor, then
    adopt its new block, hand its entries to a later checkpoint that covers them, or anchor it
    again."""
    lost = {
        "transaction_hash": checkpoint.transaction_hash,
        "block_number": checkpoint.block_number,
        "block_hash": checkpoint.block_hash,
        "detected_at": now().isoformat(),
    }
    checkpoint.reorganised = [*checkpoint.reorganised, lost]
    logger.warning(
        "checkpoint %s: its anchor %s (block %s) is no longer in the canonical chain",
        checkpoint.tree_size,
        checkpoint.transaction_hash,
        checkpoint.block_number,
    )
    if mined is not None and mined.succeeded:
        # The same transaction sits in another block of the new branch: still anchored.
        with transaction.atomic():
            Checkpoint.objects.filter(pk=checkpoint.pk).update(
                block_number=mined.block_number,
                block_hash=mined.block_hash,
                reorganised=checkpoint.reorganised,
            )
            _notify_reanchored(checkpoint.id)
        report.moved.append(checkpoint.id)
        return
    latest_size, _ = chain.latest_checkpoint()
    if latest_size >= checkpoint.tree_size:
        _hand_over(chain, checkpoint, report=report)
        return
    with transaction.atomic():
        Checkpoint.objects.filter(pk=checkpoint.pk, state=CheckpointState.CONFIRMED).update(
            state=CheckpointState.SUBMITTED,
            block_number=None,
            block_hash="",
            confirmed_at=None,
            reorganised=checkpoint.reorganised,
        )
    checkpoint.state = CheckpointState.SUBMITTED
    if mined is not None or not chain.knows_transaction(checkpoint.transaction_hash):
        # Reverted on the new branch, or unknown to the node: signed anew at the sender's next
        # nonce, with a consistency proof from the contract's latest checkpoint. The lost hash
        # is kept in `reorganised`, not among the candidates to wait for (a reverted one would
        # be taken for this checkpoint's outcome).
        _replace_transaction(chain, checkpoint, nonce=None)
        Checkpoint.objects.filter(pk=checkpoint.pk).update(replaced_transactions=[])
        checkpoint.replaced_transactions = []
    if _await_confirmation(chain, checkpoint):
        report.reanchored.append(checkpoint.id)


def _hand_over(chain: AnchorChain, checkpoint: Checkpoint, *, report: FinalityReport) -> None:
    """The contract already holds a larger checkpoint (a later anchor made it onto the new
    branch with a proof from an older one): the lost checkpoint cannot be anchored again
    (sizes only grow), but the later one covers its leaves. They move to the smallest later
    checkpoint that is confirmed and on chain; the lost one is marked failed."""
    later = (
        Checkpoint.objects.filter(
            state=CheckpointState.CONFIRMED, tree_size__gt=checkpoint.tree_size
        )
        .order_by("tree_size")
        .first()
    )
    if later is None or chain.anchored_root(later.tree_size) != bytes(later.root):
        raise ChainError(
            f"checkpoint {checkpoint.tree_size} was lost in a reorganisation and the contract "
            f"already holds a larger checkpoint that the portal did not anchor: check the "
            f"sender key and the contract before anchoring again"
        )
    with transaction.atomic():
        Entry.objects.filter(checkpoint=checkpoint).update(checkpoint=later)
        Checkpoint.objects.filter(pk=checkpoint.pk).update(
            state=CheckpointState.FAILED,
            reorganised=checkpoint.reorganised,
            error=(
                f"its anchor was lost in a reorganisation; its entries moved to checkpoint "
                f"{later.tree_size}, which covers them"
            ),
        )
        _notify_reanchored(later.id)
    report.superseded.append(checkpoint.id)
