"""Ledger reads: receipts and pipeline status."""

from ledger import merkle, receipts
from ledger.models import Checkpoint, Entry, EntryState
from ledger.services import DatabaseNodeStore


def receipts_for(entries: list[Entry]) -> dict[int, dict]:
    """The receipt of each anchored entry, by entry id (see docs/receipts.md).

    Two queries however many entries: their checkpoints, and every Merkle node their
    inclusion proofs need. Entries should come with `signing_key` selected.
    """
    for entry in entries:
        if entry.state != EntryState.ANCHORED or entry.checkpoint_id is None:
            raise ValueError(f"entry {entry.pk} is not anchored yet")
    checkpoints = Checkpoint.objects.in_bulk({entry.checkpoint_id for entry in entries})
    needed = set()
    for entry in entries:
        needed |= merkle.inclusion_proof_keys(
            entry.leaf_index, checkpoints[entry.checkpoint_id].tree_size
        )
    store = merkle.InMemoryStore(DatabaseNodeStore().get_nodes(needed))
    result = {}
    for entry in entries:
        checkpoint = checkpoints[entry.checkpoint_id]
        key = entry.signing_key
        if entry.receipt_version == 2:
            build = receipts.build_receipt_v2
            version_fields = {"organisation": key.owner, "custody": key.custody}
        else:
            build = receipts.build_receipt
            version_fields = {"canonical_hash": bytes(entry.canonical_hash)}
        result[entry.id] = build(
            subject=entry.subject,
            **version_fields,
            salt=bytes(entry.salt),
            leaf=bytes(entry.leaf),
            signature=bytes(entry.signature),
            public_key=bytes(key.public_key),
            leaf_index=entry.leaf_index,
            tree_size=checkpoint.tree_size,
            root=bytes(checkpoint.root),
            inclusion_proof=merkle.inclusion_proof(entry.leaf_index, checkpoint.tree_size, store),
            chain_id=checkpoint.chain_id,
            contract=checkpoint.contract,
            transaction_hash=checkpoint.transaction_hash,
            block_number=checkpoint.block_number,
        )
    return result


def has_unanchored_entries() -> bool:
    return Entry.objects.exclude(state=EntryState.ANCHORED).exists()
