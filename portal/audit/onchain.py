"""What the chain holds about the audit trail, found without trusting the audit tables.

`verify_audit` must notice when someone with write access to the database deletes
`AuditAnchor` rows and rewrites the events (and the head) consistently: the rows then agree
with each other and list no anchor to contradict them. So the anchored heads are found from
the chain instead:

1. the pins: the anchor contract, the addresses allowed to anchor, and the platform's public
   key, from a trust root pinned out of band or from settings (never from a database label);
2. the contract's latest checkpoint (size S, root R), anchored by a pinned sender (its
   `CheckpointAnchored` event and the transaction's sender, read from the node). The contract
   accepts a checkpoint only with an RFC 9162 consistency proof from the one before, so R
   commits to every leaf ever anchored;
3. every ledger entry among the first S leaves whose key is the pinned platform key and whose
   subject is `audit-head@N`: an audit head anchored on chain. For each, the leaf is
   recomputed from the event row N as it is now (RFC 8785 form of the head object, the entry's
   salt) and its RFC 9162 section 2.1.3.2 inclusion proof is checked against R, so a rewritten
   event N no longer leads to the root the chain holds.

Entries are counted too: a missing entry among the first S leaves is reported, since deleting
the entry of an anchored head is how one would hide it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from ledger import canonical, keys, merkle, signing, trust_root
from ledger.chain import AnchorChain, ChainError, sender_address
from ledger.models import Deployment, Entry
from ledger.services import DatabaseNodeStore, contract_address
from portal.audit.models import anchor_payload

_SUBJECT = re.compile(r"audit-head@([1-9][0-9]*)")


class PinsError(ValueError):
    """The pins cannot be established; ``str()`` says what to configure."""


@dataclass(frozen=True)
class AuditPins:
    """What verify_audit believes without the database."""

    chain_id: int | None
    contract: str
    senders: tuple[str, ...]
    platform_keys: tuple[bytes, ...]
    source: str  # "trust root FILE" or "settings"

    def is_sender(self, address: str | None) -> bool:
        return address is not None and address.lower() in {s.lower() for s in self.senders}


def pins_from_trust_root(path: str) -> AuditPins:
    """The pins of a trust root file (docs/receipts.md): its chain, contract, anchor senders
    and the keys it lists for the organisation `platform`."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        root = trust_root.parse_trust_root(document)
    except (OSError, ValueError) as exc:
        raise PinsError(f"cannot use the trust root {path}: {exc}") from exc
    platform_keys = tuple(
        key.public_key for key in root.keys.values() if key.organisation == keys.PLATFORM_OWNER
    )
    if not platform_keys:
        raise PinsError(f"the trust root {path} lists no key of the organisation 'platform'")
    return AuditPins(
        chain_id=root.chain_id,
        contract=root.contract,
        senders=tuple(root.anchor_senders),
        platform_keys=platform_keys,
        source=f"trust root {path}",
    )


def pins_from_settings() -> AuditPins:
    """The pins of the configuration: AUDIT_PLATFORM_PUBLIC_KEY, the sender of
    LEDGER_SENDER_KEY and the anchor contract in use."""
    raw = settings.AUDIT_PLATFORM_PUBLIC_KEY.strip().lower().removeprefix("0x")
    if not raw:
        raise PinsError(
            "the platform key is not pinned: set AUDIT_PLATFORM_PUBLIC_KEY (the public key of "
            "the organisation 'platform' in the trust root, GET /api/ledger/trust-root/) or "
            "pass --trust-root"
        )
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise PinsError("AUDIT_PLATFORM_PUBLIC_KEY must be 64 hex digits (an Ed25519 key)")
    if not settings.LEDGER_SENDER_KEY:
        raise PinsError("no anchor sender is pinned: set LEDGER_SENDER_KEY or pass --trust-root")
    return AuditPins(
        chain_id=None,
        contract=contract_address(),
        senders=(sender_address(settings.LEDGER_SENDER_KEY),),
        platform_keys=(key,),
        source="settings",
    )


@dataclass(frozen=True)
class AnchoredHead:
    """An audit head (seq) sealed as log leaf `leaf_index`, found among the anchored leaves."""

    seq: int
    entry_id: int
    leaf_index: int
    salt: bytes
    public_key: bytes
    signature: bytes
    subject: str


@dataclass
class ChainView:
    """The audit heads the chain holds, and what stood in the way of finding them."""

    tree_size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    transaction_hash: str = ""
    heads: dict[int, AnchoredHead] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_chain(pins: AuditPins, chain: AnchorChain) -> ChainView:
    """The latest checkpoint of the pinned contract, checked to come from a pinned sender, and
    the audit heads among its leaves (see the module docstring). Raises ChainError when the
    node cannot be read."""
    view = ChainView()
    if pins.chain_id is not None and chain.chain_id() != pins.chain_id:
        view.problems.append(
            f"the node serves chain {chain.chain_id()}, the pins name chain {pins.chain_id}"
        )
        return view
    size, root = chain.latest_checkpoint()
    if size == 0:
        return view
    # Searching from the recorded deployment block spares nodes that limit log ranges; a wrong
    # record can only hide the event, which fails the check below (never passes it).
    deployed = (
        Deployment.objects.filter(address__iexact=pins.contract)
        .values_list("block_number", flat=True)
        .first()
    )
    anchors = [
        (event, sender)
        for event, sender in chain.anchors_of_size(size, from_block=deployed or 0)
        if event.root == root and pins.is_sender(sender)
    ]
    if not anchors:
        view.problems.append(
            f"the contract's latest checkpoint (size {size}) was not anchored by a pinned "
            f"sender ({', '.join(pins.senders)})"
        )
        return view
    view.tree_size, view.root, view.transaction_hash = size, root, anchors[-1][0].transaction_hash
    present = Entry.objects.filter(leaf_index__lt=size).count()
    if present != size:
        view.problems.append(
            f"{size - present} of the {size} log entries anchored on chain are missing from the "
            f"database: entries were deleted"
        )
    heads = Entry.objects.filter(
        leaf_index__lt=size,
        signing_key__public_key__in=list(pins.platform_keys),
        subject__startswith="audit-head@",
    ).select_related("signing_key")
    for entry in heads.only(
        "id", "leaf_index", "salt", "signature", "subject", "signing_key__public_key"
    ):
        match = _SUBJECT.fullmatch(entry.subject)
        if match is None:
            continue
        seq = int(match.group(1))
        view.heads[seq] = AnchoredHead(
            seq=seq,
            entry_id=entry.id,
            leaf_index=entry.leaf_index,
            salt=bytes(entry.salt),
            public_key=bytes(entry.signing_key.public_key),
            signature=bytes(entry.signature),
            subject=entry.subject,
        )
    return view


def head_mismatch(view: ChainView, head: AnchoredHead, *, event_hash: str) -> str | None:
    """Why the event row's hash (`event_hash`, at seq `head.seq`) is not what the chain
    anchored for that seq; None when it is."""
    canonical_bytes = canonical.canonicalize(anchor_payload(seq=head.seq, hash=event_hash))
    leaf = canonical.item_leaf(head.salt, canonical_bytes)
    statement = signing.statement_bytes(
        organisation=keys.PLATFORM_OWNER,
        key_id=signing.key_id(head.public_key),
        leaf=leaf,
        subject=head.subject,
    )
    try:
        proof = merkle.inclusion_proof(head.leaf_index, view.tree_size, DatabaseNodeStore())
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), head.leaf_index, view.tree_size, proof, view.root
        )
    except (merkle.ProofError, merkle.MissingNodeError, ChainError):
        return (
            f"the chain anchored another hash for this seq (log leaf {head.leaf_index} of the "
            f"checkpoint of size {view.tree_size}, transaction {view.transaction_hash}) than "
            f"the row's {event_hash}; the trail was rewritten up to here"
        )
    if not signing.verify_statement(head.public_key, statement, head.signature):
        return (
            f"the head anchored at log leaf {head.leaf_index} does not carry a valid signature "
            f"of the pinned platform key"
        )
    return None
