"""What the chain says about one anchoring transaction, read once and checked many times.

A plain value with no web3 in it, so ledger.verify can check receipts against it without
importing the chain client. ledger.chain.AnchorChain.anchor_facts reads one; a batch of
receipts citing the same checkpoint shares it. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnchorFacts:
    """The chain's answer for (contract, transaction, tree size).

    ``block_number`` is None when the transaction is unknown, reverted or not a call to the
    contract; ``checkpoints`` lists the (tree size, root) of every CheckpointAnchored event
    the contract emitted in it; ``root_at_size`` and ``anchored_at`` are what the contract
    holds for the receipt's tree size (None when never anchored); ``head_block`` is the
    newest block counted as deep enough to compare with (latest or finalized).
    """

    chain_id: int
    contract: str
    has_code: bool
    transaction_hash: str
    block_number: int | None
    sender: str | None
    checkpoints: tuple[tuple[int, bytes], ...]
    root_at_size: bytes | None
    anchored_at: int | None
    head_block: int

    def confirmations(self) -> int:
        if self.block_number is None:
            return 0
        return max(self.head_block - self.block_number + 1, 0)
