"""Ledger writes: signing keys, sealing, the append-only log and anchoring its checkpoints.

Anchoring is a group commit (DESIGN.md, "anchor"): one sender at a time holds a lock,
appends every sealed entry to the log, commits the log's checkpoint on-chain, waits for it and
loops while new entries arrived meanwhile. Under low load that is one leaf per transaction;
under high load thousands. Every step is a row with a state, so a crash at any point is
resumed by the next call: a submitted transaction is found again by its stored hash.
"""

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ledger import canonical, merkle, signing
from ledger.bulk import bulk_set
from ledger.chain import AnchorChain, AnchorRejected, ChainError, MinedTx, TransactionRefused
from ledger.models import (
    Checkpoint,
    CheckpointState,
    Custody,
    Deployment,
    Entry,
    EntryState,
    LogHead,
    MerkleNode,
    SigningKey,
)
from ledger.pinning import PortalChain

logger = logging.getLogger(__name__)

SENDER_LOCK_NAME = "cti-portal:ledger:anchor-sender"
SENDER_LOCK_KEY = 0x637469616E63  # PostgreSQL advisory lock id of the anchor sender
APPEND_BATCH = 5000


# --- Signing keys ------------------------------------------------------------------------


def create_signing_key(*, owner: str) -> SigningKey:
    """Generate an Ed25519 key for `owner`; the private half is stored encrypted."""
    private_key, public_key = signing.generate_keypair()
    return SigningKey.objects.create(
        owner=owner,
        key_id=signing.key_id(public_key),
        public_key=public_key,
        encrypted_private_key=signing.encrypt_private_key(
            private_key, secret=settings.ENCRYPTION_SECRET
        ),
    )


def active_signing_key(*, owner: str) -> SigningKey:
    """The owner's current portal-held key (the one browser publishing signs with). Raises
    SigningKey.DoesNotExist when it has none."""
    return SigningKey.objects.filter(
        owner=owner, custody=Custody.PORTAL, retired_at__isnull=True, revoked_at__isnull=True
    ).latest("created_at")


# --- Sealing -----------------------------------------------------------------------------


def seal(*, payload: Any, subject: str, signing_key: SigningKey) -> Entry:
    """Seal one payload; see seal_many."""
    return seal_many([SealRequest(payload=payload, subject=subject, signing_key=signing_key)])[0]


@dataclass(frozen=True)
class SealRequest:
    """One payload to seal. ``salt`` and ``signature`` come together, from a client that signed
    with an organisation-held key; otherwise the portal draws the salt and signs."""

    payload: Any
    subject: str
    signing_key: SigningKey
    salt: bytes | None = None
    signature: bytes | None = None


class ClientSignatureError(ValueError):
    """A client's salt and signature do not seal the payload under the key they name."""


def seal_many(requests: Sequence[SealRequest]) -> list[Entry]:
    """Canonicalise (RFC 8785), salt, hash into a domain-separated leaf and sign each payload;
    store the entries in one bulk insert, in the order given.

    A request carrying the client's salt and signature (an organisation-held key) is stored as
    given once the signature verifies over the statement of its leaf; the portal holds no
    private half of such a key and never signs with it. Each portal-held key is decrypted once
    per call, however many payloads it signs. Raises canonical.CanonicalizationError when a
    payload has no canonical form and ClientSignatureError when a client signature is missing
    or does not verify (nothing is stored).
    """
    private_keys: dict[int, Any] = {}
    entries = []
    for request in requests:
        key = request.signing_key
        subject = request.subject[: signing.SUBJECT_CHARS]
        canonical_bytes = canonical.canonicalize(request.payload)
        client_signed = request.signature is not None or not key.encrypted_private_key
        salt = request.salt if client_signed else canonical.new_salt()
        if client_signed and (salt is None or request.signature is None):
            raise ClientSignatureError(
                f"{subject}: key {key.key_id} is {key.custody}; the portal cannot sign with it, "
                f"so the salt and signature must come from the organisation"
            )
        leaf = canonical.item_leaf(salt, canonical_bytes)
        if client_signed:
            signature = bytes(request.signature)
            statement = signing.statement_bytes(
                organisation=key.owner, key_id=key.key_id, leaf=leaf, subject=subject
            )
            if not signing.verify_statement(bytes(key.public_key), statement, signature):
                raise ClientSignatureError(
                    f"{subject}: the signature does not verify under key {key.key_id}"
                )
        else:
            if key.pk not in private_keys:
                private_keys[key.pk] = signing.decrypt_private_key(
                    key.encrypted_private_key, secret=settings.ENCRYPTION_SECRET
                )
            # Receipt version 2: the signature binds the organisation, the key and the subject.
            signature = signing.sign_statement(
                private_keys[key.pk],
                organisation=key.owner,
                key_id=key.key_id,
                leaf=leaf,
                subject=subject,
            )
        entries.append(
            Entry(
                subject=subject,
                signing_key=key,
                canonical_hash=canonical.sha256(canonical_bytes),
                salt=salt,
                leaf=leaf,
                signature=signature,
                receipt_version=2,
            )
        )
    return Entry.objects.bulk_create(entries, batch_size=1000)


# --- The Merkle log ----------------------------------------------------------------------


class DatabaseNodeStore:
    """merkle.NodeStore over MerkleNode rows, one query per call (one condition per level)."""

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        if not keys:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        condition = Q()
        for level, indexes in by_level.items():
            condition |= Q(level=level, index__in=indexes)
        rows = MerkleNode.objects.filter(condition).values_list("level", "index", "hash")
        return {(level, index): bytes(digest) for level, index, digest in rows}


class _OverlayStore:
    """Nodes not yet written, in front of the database."""

    def __init__(self, fresh: Mapping[tuple[int, int], bytes], base: DatabaseNodeStore) -> None:
        self.fresh = fresh
        self.base = base

    def get_nodes(self, keys: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        found = {key: self.fresh[key] for key in keys if key in self.fresh}
        found.update(self.base.get_nodes([key for key in keys if key not in self.fresh]))
        return found


def log_head(*, for_update: bool = False) -> LogHead:
    queryset = LogHead.objects.select_for_update() if for_update else LogHead.objects
    head, _ = queryset.get_or_create(pk=1, defaults={"size": 0, "root": merkle.EMPTY_ROOT})
    return head


def append_sealed_entries(*, limit: int = APPEND_BATCH) -> int:
    """Give sealed entries the next leaf indexes, in id order. Returns how many were appended."""
    with transaction.atomic():
        head = log_head(for_update=True)
        entries = list(
            Entry.objects.filter(state=EntryState.SEALED).order_by("id").only("id", "leaf")[:limit]
        )
        if not entries:
            return 0
        store = DatabaseNodeStore()
        fresh = merkle.append_nodes(head.size, [bytes(entry.leaf) for entry in entries], store)
        MerkleNode.objects.bulk_create(
            [MerkleNode(level=level, index=index, hash=h) for (level, index), h in fresh.items()],
            batch_size=2000,
        )
        for offset, entry in enumerate(entries):
            entry.leaf_index = head.size + offset
            entry.state = EntryState.LOGGED
        bulk_set(entries, ["leaf_index", "state"])
        new_size = head.size + len(entries)
        head.root = merkle.root(new_size, _OverlayStore(fresh, store))
        head.size = new_size
        head.updated_at = timezone.now()
        head.save()
        return len(entries)


def inclusion_proof(*, entry: Entry, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(entry.leaf_index, tree_size, DatabaseNodeStore())


def consistency_proof(*, old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(old_size, new_size, DatabaseNodeStore())


# --- The chain ---------------------------------------------------------------------------


def contract_address() -> str:
    """The anchor registry in use: the configured one, else the latest deployment."""
    if settings.LEDGER_CONTRACT_ADDRESS:
        return settings.LEDGER_CONTRACT_ADDRESS
    deployment = Deployment.objects.first()
    if deployment is None:
        raise ChainError("no anchor contract deployed: run `python manage.py deploy_anchor`")
    return deployment.address


def chain_client(*, with_contract: bool = True) -> AnchorChain:
    """The portal's chain client; bound to the contract, it also carries the portal's own trust
    root (ledger.pinning), so verification through it is pinned."""
    if not with_contract:
        return AnchorChain(settings.LEDGER_RPC_URL, None, timeout=10.0)
    return PortalChain(settings.LEDGER_RPC_URL, contract_address(), timeout=10.0)


def deploy_anchor_contract_if_needed() -> tuple[Deployment, bool]:
    """Reuse the recorded contract when the chain still has its code and it is this version of
    the registry; else deploy one. A registry from before consistency checking (no
    ``maxGrowth``) is left behind: its checkpoints stay readable, new ones go to the new one.

    Returns the deployment and whether it is new.
    """
    chain = chain_client(with_contract=False)
    chain_id = chain.chain_id()
    for deployment in Deployment.objects.filter(chain_id=chain_id):
        if chain.has_code(deployment.address) and _is_current_registry(deployment.address):
            return deployment, False
    deployed = chain.deploy(settings.LEDGER_SENDER_KEY, max_growth=settings.LEDGER_MAX_GROWTH)
    # A chain that lost its state gives the same address again to the same sender and nonce.
    deployment, _ = Deployment.objects.update_or_create(
        chain_id=chain_id,
        address=deployed.address,
        defaults={
            "transaction_hash": deployed.transaction_hash,
            "block_number": deployed.block_number,
            "created_at": timezone.now(),
        },
    )
    return deployment, True


def _is_current_registry(address: str) -> bool:
    try:
        AnchorChain(settings.LEDGER_RPC_URL, address).max_growth()
    except ChainError:
        return False
    return True


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@contextmanager
def sender_lock() -> Iterator[bool]:
    """Try to become the single anchor sender; yields whether this process is it.

    On PostgreSQL a session-level advisory lock: the server releases it the moment the holder's
    connection dies, so a worker killed with -9 blocks nobody. Elsewhere (the embedded SQLite
    set-up) a Redis lock whose expiry bounds how long a dead holder blocks the others.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [SENDER_LOCK_KEY])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [SENDER_LOCK_KEY])
        return
    lock = _redis().lock(SENDER_LOCK_NAME, timeout=settings.LEDGER_TX_TIMEOUT_SECONDS * 2 + 30)
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except redis.exceptions.LockError:
                logger.warning("anchor sender lock expired before release")


def anchor_pending(*, max_rounds: int = 100) -> list[int]:
    """Anchor everything sealed so far, as the single sender. Returns confirmed checkpoint ids.

    Returns at once with [] when another process is the sender: that sender loops until nothing
    is left, and looks again after letting go of the lock, so it takes these entries too (group
    commit). Raises ChainError when the node cannot be reached; nothing is lost, the caller
    retries.
    """
    confirmed: list[int] = []
    while _has_anchoring_work():
        with sender_lock() as acquired:
            if not acquired:
                break
            confirmed += _anchor_rounds(max_rounds=max_rounds)
        # An entry sealed while we held the lock saw it busy and left the work to us.
        if not Entry.objects.filter(state=EntryState.SEALED).exists():
            break
    return confirmed


def _has_anchoring_work() -> bool:
    return (
        Entry.objects.filter(state__in=[EntryState.SEALED, EntryState.LOGGED]).exists()
        or Checkpoint.objects.filter(state=CheckpointState.SUBMITTED).exists()
    )


def _anchor_rounds(*, max_rounds: int) -> list[int]:
    confirmed = []
    chain = chain_client()
    for _ in range(max_rounds):
        for checkpoint in Checkpoint.objects.filter(state=CheckpointState.SUBMITTED):
            # Left behind by a crash: its signed transaction is stored, so finish it.
            if _await_confirmation(chain, checkpoint):
                confirmed.append(checkpoint.id)
        append_sealed_entries()
        checkpoint = _submit_checkpoint(chain)
        if checkpoint is None:
            break
        if not _await_confirmation(chain, checkpoint):
            break  # reverted: retrying at once would revert again; the sweeper comes back
        confirmed.append(checkpoint.id)
    return confirmed


def _submit_checkpoint(chain: AnchorChain) -> Checkpoint | None:
    """Sign, store, then broadcast the anchor transaction of the current head, if it grew."""
    head = log_head()
    last = (
        Checkpoint.objects.filter(state__in=[CheckpointState.SUBMITTED, CheckpointState.CONFIRMED])
        .order_by("-tree_size")
        .first()
    )
    if head.size == 0 or (last is not None and last.tree_size >= head.size):
        return None
    tree_size, root, proof = _next_checkpoint(chain, head)
    signed = chain.sign_anchor(settings.LEDGER_SENDER_KEY, tree_size, root, proof)
    # Stored before it is sent: after a crash the hash finds it and the raw bytes resend it.
    checkpoint = Checkpoint.objects.create(
        tree_size=tree_size,
        root=root,
        state=CheckpointState.SUBMITTED,
        chain_id=chain.chain_id(),
        contract=contract_address(),
        sender=signed.sender,
        nonce=signed.nonce,
        transaction_hash=signed.transaction_hash,
        raw_transaction=signed.raw,
    )
    chain.send_raw(signed.raw)
    return checkpoint


def _next_checkpoint(chain: AnchorChain, head: LogHead) -> tuple[int, bytes, list[bytes]]:
    """The checkpoint to anchor next, with its RFC 9162 consistency proof from the contract's
    latest checkpoint (the contract verifies it): the head, or as far towards it as the
    contract's growth limit allows (the next round goes on from there)."""
    anchored_size, anchored_root = chain.latest_checkpoint()
    store = DatabaseNodeStore()
    if anchored_size > head.size or (
        anchored_size and merkle.root(anchored_size, store) != anchored_root
    ):
        raise ChainError(
            f"the log (size {head.size}) does not extend the contract's latest checkpoint (size "
            f"{anchored_size}, root {anchored_root.hex()}): the database is not the log that was "
            f"anchored (restored from an older backup?); anchoring stops rather than fork"
        )
    tree_size = min(head.size, anchored_size + chain.max_growth())
    root = bytes(head.root) if tree_size == head.size else merkle.root(tree_size, store)
    proof = merkle.consistency_proof(anchored_size, tree_size, store) if anchored_size else []
    return tree_size, root, proof


def _await_confirmation(chain: AnchorChain, checkpoint: Checkpoint) -> bool:
    """Wait until the checkpoint's transaction is LEDGER_CONFIRMATIONS blocks deep; record the
    outcome. Raises ChainError when that takes longer than LEDGER_TX_TIMEOUT_SECONDS: the
    checkpoint stays submitted and the next run resumes it."""
    deadline = time.monotonic() + settings.LEDGER_TX_TIMEOUT_SECONDS
    mined = _wait_mined(chain, checkpoint, deadline)
    while mined.succeeded and mined.confirmations < settings.LEDGER_CONFIRMATIONS:
        if time.monotonic() > deadline:
            raise ChainError(
                f"checkpoint {checkpoint.tree_size} has {mined.confirmations} confirmations, "
                f"waiting for {settings.LEDGER_CONFIRMATIONS}"
            )
        time.sleep(0.5)
        mined = _wait_mined(chain, checkpoint, deadline)
    if not mined.succeeded:
        Checkpoint.objects.filter(pk=checkpoint.pk).update(
            state=CheckpointState.FAILED, error="the anchor transaction reverted"
        )
        logger.error("checkpoint %s reverted on chain", checkpoint.tree_size)
        return False
    return _confirm(checkpoint, block_number=mined.block_number, block_hash=mined.block_hash)


def _wait_mined(chain: AnchorChain, checkpoint: Checkpoint, deadline: float) -> MinedTx:
    """Poll until one of the checkpoint's transactions is mined. Whenever the node no longer
    knows it (a crash before it was broadcast, a pool that dropped it, or a reorganisation that
    took its block away: DESIGN.md, finality), the same signed transaction is sent again, so the
    same checkpoint is anchored anew. A transaction left pending for LEDGER_FEE_BUMP_SECONDS is
    replaced at the same nonce with fees 1/8 higher, up to LEDGER_MAX_FEE_PER_GAS; a nonce taken
    by a transaction that is not ours is detected, and the checkpoint is signed again at the
    next nonce."""
    bump_at = time.monotonic() + settings.LEDGER_FEE_BUMP_SECONDS
    while True:
        mined = _mined_candidate(chain, checkpoint)
        if mined is not None:
            return mined
        if time.monotonic() > deadline:
            raise ChainError(f"the anchor of checkpoint {checkpoint.tree_size} was not mined")
        if chain.mined_nonce(checkpoint.sender) > checkpoint.nonce:
            # Mined meanwhile, or a foreign transaction took the nonce: look once more first.
            mined = _mined_candidate(chain, checkpoint)
            if mined is not None:
                return mined
            logger.warning(
                "nonce %s of %s was taken by another transaction; signing checkpoint %s again",
                checkpoint.nonce,
                checkpoint.sender,
                checkpoint.tree_size,
            )
            _replacing(_replace_transaction, chain, checkpoint, nonce=None)
        elif not chain.knows_transaction(checkpoint.transaction_hash):
            logger.warning("sending the anchor of checkpoint %s (again)", checkpoint.tree_size)
            chain.send_raw(bytes(checkpoint.raw_transaction))
        elif time.monotonic() >= bump_at:
            _replacing(_bump_fee, chain, checkpoint)
            bump_at = time.monotonic() + settings.LEDGER_FEE_BUMP_SECONDS
        time.sleep(0.05)


def _replacing(replace: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run a replacement, racing with the block that may include the transaction it replaces.

    A revert of the new signature's estimate, or the node's refusal of the replacement for a
    nonce that is taken (mined meanwhile: "nonce too low"; or the pending one kept: "replacement
    transaction underpriced"), both mean the transaction being replaced may have won: the
    checkpoint keeps it (see _replace_transaction) and the next look finds it mined, so either
    is only logged. Any other ChainError (an unreachable node) is raised."""
    try:
        replace(*args, **kwargs)
    except (AnchorRejected, TransactionRefused) as exc:
        logger.info("not replacing the anchor transaction: %s", exc)


def _mined_candidate(chain: AnchorChain, checkpoint: Checkpoint) -> MinedTx | None:
    """The mined one among the checkpoint's transactions, adopted as its transaction."""
    for tx_hash in [checkpoint.transaction_hash, *checkpoint.replaced_transactions]:
        mined = chain.mined(tx_hash)
        if mined is None:
            continue
        if tx_hash != checkpoint.transaction_hash:
            Checkpoint.objects.filter(pk=checkpoint.pk).update(transaction_hash=tx_hash)
            checkpoint.transaction_hash = tx_hash
        return mined
    return None


def _bump_fee(chain: AnchorChain, checkpoint: Checkpoint) -> None:
    fees = chain.transaction_fees(checkpoint.transaction_hash)
    if fees is None:
        return
    ceiling = settings.LEDGER_MAX_FEE_PER_GAS
    # Nodes replace a pending transaction only for at least 10% more (geth's default).
    max_fee, priority_fee = (fee + fee // 8 + 1 for fee in fees)
    if max_fee > ceiling:
        logger.warning(
            "the anchor of checkpoint %s is stuck at the fee ceiling LEDGER_MAX_FEE_PER_GAS",
            checkpoint.tree_size,
        )
        return
    _replace_transaction(
        chain, checkpoint, nonce=checkpoint.nonce, min_fees=(max_fee, min(priority_fee, max_fee))
    )


def _replace_transaction(
    chain: AnchorChain,
    checkpoint: Checkpoint,
    *,
    nonce: int | None,
    min_fees: tuple[int, int] | None = None,
) -> None:
    """Sign the checkpoint's anchor again (same nonce and higher fees, or the next nonce),
    store it as the checkpoint's transaction, keep the old hash, then broadcast.

    Stored before it is broadcast, so that a crash in between loses no transaction the node
    may have. When the node refuses it because its nonce is taken (TransactionRefused), it
    never reached a pool: the checkpoint goes back to the transaction it had (mined meanwhile,
    or still pending), so no record cites a transaction no node holds, and the refusal is
    raised."""
    anchored_size, _ = chain.latest_checkpoint()
    store = DatabaseNodeStore()
    proof = (
        merkle.consistency_proof(anchored_size, checkpoint.tree_size, store)
        if anchored_size
        else []
    )
    signed = chain.sign_anchor(
        settings.LEDGER_SENDER_KEY,
        checkpoint.tree_size,
        bytes(checkpoint.root),
        proof,
        nonce=nonce,
        min_fees=min_fees,
    )
    previous = (
        checkpoint.transaction_hash,
        bytes(checkpoint.raw_transaction),
        checkpoint.nonce,
        list(checkpoint.replaced_transactions),
    )
    _set_transaction(
        checkpoint,
        signed.transaction_hash,
        signed.raw,
        signed.nonce,
        [*checkpoint.replaced_transactions, checkpoint.transaction_hash],
    )
    try:
        chain.send_raw(signed.raw)
    except TransactionRefused:
        _set_transaction(checkpoint, *previous)
        raise


def _set_transaction(
    checkpoint: Checkpoint, transaction_hash: str, raw: bytes, nonce: int, replaced: list[str]
) -> None:
    """Record the checkpoint's current anchoring transaction and the ones it replaced."""
    Checkpoint.objects.filter(pk=checkpoint.pk).update(
        transaction_hash=transaction_hash,
        raw_transaction=raw,
        nonce=nonce,
        replaced_transactions=replaced,
    )
    checkpoint.transaction_hash, checkpoint.raw_transaction = transaction_hash, raw
    checkpoint.nonce, checkpoint.replaced_transactions = nonce, replaced


def _confirm(checkpoint: Checkpoint, *, block_number: int, block_hash: str = "") -> bool:
    """Record the checkpoint as confirmed in `block_number`; its leaves become anchored.

    A checkpoint anchored again after a reorganisation (`reorganised` not empty) also tells
    the re-anchor listeners, whose receipts cite the transaction that is gone.
    """
    with transaction.atomic():
        changed = Checkpoint.objects.filter(
            pk=checkpoint.pk, state=CheckpointState.SUBMITTED
        ).update(
            state=CheckpointState.CONFIRMED,
            block_number=block_number,
            block_hash=block_hash,
            confirmed_at=timezone.now(),
        )
        if not changed:
            return False
        Entry.objects.filter(state=EntryState.LOGGED, leaf_index__lt=checkpoint.tree_size).update(
            state=EntryState.ANCHORED, checkpoint=checkpoint
        )
        listeners = list(_checkpoint_listeners)
        if checkpoint.reorganised:
            listeners += _reanchor_listeners
        for listener in listeners:
            transaction.on_commit(lambda listener=listener: listener(checkpoint.id))
    return True


# --- Hand-off to the apps that use the ledger ---------------------------------------------

_checkpoint_listeners: list[Callable[[int], None]] = []


def on_checkpoint_confirmed(listener: Callable[[int], None]) -> Callable[[int], None]:
    """Register `listener(checkpoint_id)`, called after a checkpoint's confirmation commits.

    The ledger knows nothing of what its entries are for: an app that waits for anchoring
    (sharing, in its AppConfig.ready) registers here. A listener must be quick and must not
    raise; a lost call only delays work, since the caller's sweeper finds anchored rows too.
    """
    if listener not in _checkpoint_listeners:
        _checkpoint_listeners.append(listener)
    return listener


_reanchor_listeners: list[Callable[[int], None]] = []


def on_checkpoint_reanchored(listener: Callable[[int], None]) -> Callable[[int], None]:
    """Register `listener(checkpoint_id)`, called after a checkpoint whose anchoring transaction
    a reorganisation took away is confirmed again (by another transaction, or in another
    block), and after entries move to a later checkpoint that covers them: receipts of that
    checkpoint's entries cite a transaction or block that is gone and must be issued anew.
    Same rules as on_checkpoint_confirmed: quick, never raising, backed by a sweeper.
    """
    if listener not in _reanchor_listeners:
        _reanchor_listeners.append(listener)
    return listener
