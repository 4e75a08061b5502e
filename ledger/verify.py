"""Check sealed items against their receipts without trusting the portal.

Usable as a library (verify_item, verify_batch) and as a command::

    python -m ledger.verify OBJECT.json RECEIPT.json --trust-root TRUST.json --rpc-url URL
    python -m ledger.verify --batch ITEMS.jsonl --trust-root TRUST.json --rpc-url URL

Every step is recomputed from the object and the receipt alone: the RFC 8785 canonical
hash, the salted leaf, the Ed25519 signature over the leaf, the RFC 9162 inclusion proof
of the leaf in a log checkpoint, and, from a node of the chain, that the stated
transaction is a call by the pinned anchor sender to the pinned contract whose event
records exactly the receipt's checkpoint, deep enough to count.

It fails closed: what the receipt says about itself (its key, contract, chain) proves
nothing until it is compared with a **trust root** pinned out of band (ledger.trust_root).
Without one the result is UNPINNED and not verified, unless the caller explicitly asks for
an insecure self-consistency check. A chain reader may carry the trust root of its owner
(the portal's own reader does), which then applies when none is passed.

No Django here; the chain client (and with it web3) is imported only when a chain is
queried.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ledger.canonical import CanonicalizationError, canonicalize, item_leaf, sha256
from ledger.facts import AnchorFacts
from ledger.merkle import ProofError, leaf_hash, verify_inclusion
from ledger.receipts import Receipt, ReceiptFormatError, parse_receipt
from ledger.signing import key_id, statement_bytes, verify_signature, verify_statement
from ledger.trust_root import FINALIZED, TrustRoot, TrustRootError, parse_trust_root

CHECK_NAMES = ("trust", "receipt", "canonical_hash", "leaf", "signature", "inclusion", "anchor")

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1
EXIT_USAGE = 2
EXIT_UNPINNED = 3

UNPINNED = "UNPINNED"


@dataclass(frozen=True)
class Check:
    """The outcome of one verification step; ``detail`` says why, for humans."""

    name: str
    ok: bool
    detail: str


class AnchorReader(Protocol):
    """The read side of ledger.chain.AnchorChain that verification uses.

    ``contract_address`` is the contract the reader is bound to: facts are only ever read
    from it. Failures talking to the node raise ledger.chain.ChainError.
    """

    contract_address: str | None

    def anchor_facts(
        self, tx_hash: str, tree_size: int, finality: int | str = 1
    ) -> AnchorFacts: ...


FactsCache = MutableMapping[tuple[str, int, int | str], "AnchorFacts | Exception"]


def verify_item(
    obj: Any,
    receipt_doc: Any,
    *,
    chain: AnchorReader | None,
    trust_root: TrustRoot | None = None,
    insecure_no_trust_root: bool = False,
    expected_key_id: str | None = None,
    expected_contract: str | None = None,
    confirmations: int | str | None = None,
    facts_cache: FactsCache | None = None,
) -> list[Check]:
    """Run every check of ``obj`` (a parsed JSON value) against ``receipt_doc``.

    Returns one Check per name in CHECK_NAMES, in that order; the item is verified only if
    all are ok. A failed check does not stop later ones that can still run.

    ``trust_root`` (else the ``trust_root`` attribute of ``chain``, if any) pins the chain,
    contract, anchor senders, organisation keys and confirmation depth. Without one the
    "trust" check fails (UNPINNED) unless ``insecure_no_trust_root`` is set, in which case
    the receipt is only shown to be self-consistent. ``confirmations`` overrides the trust
    root's depth (an int, or "finalized"). ``facts_cache`` lets many receipts share one
    chain read per checkpoint (see verify_batch).
    """
    trust = trust_root if trust_root is not None else getattr(chain, "trust_root", None)
    trust_check = _check_trust(trust, insecure=insecure_no_trust_root)
    try:
        receipt = parse_receipt(receipt_doc)
    except ReceiptFormatError as exc:
        skipped = [Check(name, False, "skipped: receipt unreadable") for name in CHECK_NAMES[2:]]
        return [trust_check, Check("receipt", False, f"receipt unreadable: {exc}"), *skipped]
    depth = confirmations if confirmations is not None else (trust.confirmations if trust else 1)
    facts, facts_problem = _read_facts(receipt, chain, trust, expected_contract, depth, facts_cache)
    canonical, hash_check = _check_canonical_hash(obj, receipt)
    return [
        trust_check,
        Check("receipt", True, f"well-formed receipt v{receipt.version} for {receipt.subject}"),
        hash_check,
        _check_leaf(canonical, receipt, hash_matches=hash_check.ok),
        _check_signature(receipt, trust, expected_key_id, facts),
        _check_inclusion(receipt),
        _check_anchor(receipt, trust, facts, facts_problem, depth),
    ]


def verify_batch(
    items: Iterable[tuple[Any, Any]],
    *,
    chain: AnchorReader | None,
    trust_root: TrustRoot | None = None,
    insecure_no_trust_root: bool = False,
    confirmations: int | str | None = None,
    expected_key_id: str | None = None,
) -> list[list[Check]]:
    """verify_item for many (object, receipt) pairs, reading each checkpoint's facts from the
    chain once (one read per distinct transaction and tree size) and checking every item
    against them locally."""
    cache: FactsCache = {}
    return [
        verify_item(
            obj,
            receipt,
            chain=chain,
            trust_root=trust_root,
            insecure_no_trust_root=insecure_no_trust_root,
            confirmations=confirmations,
            expected_key_id=expected_key_id,
            facts_cache=cache,
        )
        for obj, receipt in items
    ]


def _check_trust(trust: TrustRoot | None, *, insecure: bool) -> Check:
    if trust is not None:
        return Check(
            "trust",
            True,
            f"pinned: chain {trust.chain_id}, contract {trust.contract}, "
            f"{len(trust.anchor_senders)} anchor sender(s), {len(trust.keys)} key(s)",
        )
    if insecure:
        return Check(
            "trust",
            True,
            f"{UNPINNED} (insecure, as asked): the receipt's own contract and key are believed, "
            f"so this only shows the receipt is self-consistent",
        )
    return Check(
        "trust",
        False,
        f"{UNPINNED}: no trust root was given, so nothing ties the receipt's key, contract and "
        f"chain to the portal; anyone can produce a receipt that is self-consistent",
    )


def _read_facts(
    receipt: Receipt,
    chain: AnchorReader | None,
    trust: TrustRoot | None,
    expected_contract: str | None,
    depth: int | str,
    cache: FactsCache | None,
) -> tuple[AnchorFacts | None, str | None]:
    """The chain's facts for the receipt's anchor, read from the pinned contract only."""
    contract = trust.contract if trust else (expected_contract or receipt.contract)
    if chain is None:
        return None, (
            f"not checked: no chain node was given, so nothing confirms that "
            f"{_checkpoint(receipt)} is anchored in contract {contract}"
        )
    bound = chain.contract_address
    if bound is None or bound.lower() != contract.lower():
        return None, (
            f"the chain reader is bound to contract {bound}, not to {contract}: its facts "
            f"would be about another contract"
        )
    key = (receipt.transaction_hash.lower(), receipt.tree_size, depth)
    if cache is not None and key in cache:
        cached = cache[key]
        if isinstance(cached, Exception):
            return None, f"could not read the chain: {cached}"
        return cached, None
    try:
        # Positional arguments only: a caching wrapper (ledger.reader_cache) keys on them.
        facts = chain.anchor_facts(receipt.transaction_hash, receipt.tree_size, depth)
    except (*_chain_errors(), ValueError) as exc:
        if cache is not None:
            cache[key] = exc
        return None, f"could not read the chain: {exc}"
    if cache is not None:
        cache[key] = facts
    return facts, None


def _check_canonical_hash(obj: Any, receipt: Receipt) -> tuple[bytes | None, Check]:
    try:
        canonical = canonicalize(obj)
    except CanonicalizationError as exc:
        return None, Check("canonical_hash", False, f"the object has no canonical form: {exc}")
    if receipt.canonical_hash is None:
        return canonical, Check(
            "canonical_hash",
            True,
            "RFC 8785 canonical form computed (a version 2 receipt carries no unsalted hash: "
            "the salted leaf binds the object)",
        )
    digest = sha256(canonical)
    if digest != receipt.canonical_hash:
        return canonical, Check(
            "canonical_hash",
            False,
            f"canonical hash mismatch: object hashes to {digest.hex()}, receipt says "
            f"{receipt.canonical_hash.hex()}; the object was changed after sealing, or it is "
            f"not the object this receipt is for",
        )
    return canonical, Check(
        "canonical_hash", True, f"RFC 8785 canonical form hashes to {digest.hex()}"
    )


def _check_leaf(canonical: bytes | None, receipt: Receipt, *, hash_matches: bool) -> Check:
    if canonical is None:
        return Check("leaf", False, "skipped: the object could not be canonicalized")
    leaf = item_leaf(receipt.salt, canonical)
    if leaf != receipt.leaf:
        if receipt.canonical_hash is None:
            cause = (
                "the object was changed after sealing, or it is not the object this receipt is "
                "for, or the receipt's salt or leaf was altered"
            )
        elif hash_matches:
            cause = "the receipt's salt or leaf was altered"
        else:
            cause = "this follows from the canonical hash mismatch"
        return Check(
            "leaf",
            False,
            f"leaf mismatch: salt and object give {leaf.hex()}, receipt says "
            f"{receipt.leaf.hex()}; {cause}",
        )
    return Check("leaf", True, f"salted leaf is {leaf.hex()}")


def _check_signature(
    receipt: Receipt,
    trust: TrustRoot | None,
    expected_key_id: str | None,
    facts: AnchorFacts | None,
) -> Check:
    actual_key_id = key_id(receipt.public_key)
    problems = []
    if actual_key_id != receipt.key_id:
        problems.append(
            f"key id {receipt.key_id} does not match public key {receipt.public_key.hex()}, "
            f"whose key id is {actual_key_id}"
        )
    if expected_key_id is not None and actual_key_id != expected_key_id:
        problems.append(f"signed by key {actual_key_id}, expected key {expected_key_id}")
    pinned = trust.keys.get(actual_key_id) if trust else None
    if trust is not None:
        if pinned is None or pinned.public_key != receipt.public_key:
            problems.append(f"key {actual_key_id} is not a key of the trust root")
        elif facts is None or facts.anchored_at is None:
            problems.append(
                f"the validity of key {actual_key_id} cannot be checked: the anchoring time of "
                f"the checkpoint could not be read from the chain"
            )
        else:
            moment = datetime.fromtimestamp(facts.anchored_at, UTC)
            refusal = pinned.refusal_at(moment)
            if refusal:
                problems.append(f"{refusal}, but the checkpoint was anchored at {moment:%c} UTC")
    if pinned is not None and receipt.custody is not None and receipt.custody != pinned.custody:
        problems.append(
            f"the receipt says key {actual_key_id} is {receipt.custody}, but the trust root pins "
            f"it as {pinned.custody}"
        )
    if receipt.version == 2:
        if pinned is not None and pinned.organisation != receipt.organisation:
            problems.append(
                f"key {actual_key_id} is a key of {pinned.organisation}, but the receipt says it "
                f"signed for {receipt.organisation}"
            )
        message = statement_bytes(
            organisation=receipt.organisation or "",
            key_id=receipt.key_id,
            leaf=receipt.leaf,
            subject=receipt.subject,
        )
        if not verify_statement(receipt.public_key, message, receipt.signature):
            problems.append(
                f"the Ed25519 signature does not verify over the statement (organisation "
                f"{receipt.organisation}, key {receipt.key_id}, leaf {receipt.leaf.hex()}, "
                f"subject {receipt.subject}) with public key {receipt.public_key.hex()}"
            )
    elif not verify_signature(receipt.public_key, receipt.leaf, receipt.signature):
        problems.append(
            f"the Ed25519 signature does not verify over leaf {receipt.leaf.hex()} with "
            f"public key {receipt.public_key.hex()}"
        )
    if problems:
        return Check("signature", False, "; ".join(problems))
    if pinned is not None:
        return Check(
            "signature",
            True,
            f"valid Ed25519 signature by {actual_key_id} ({pinned.custody} key of "
            f"{pinned.organisation}), valid when the checkpoint was anchored",
        )
    stated = f" ({receipt.custody}, as the receipt says)" if receipt.custody else ""
    if expected_key_id is None:
        note = f"{stated}; the key was not pinned: give a trust root to require a member's key"
    else:
        note = f"{stated}, the expected key"
    return Check("signature", True, f"valid Ed25519 signature by {actual_key_id}{note}")


def _check_inclusion(receipt: Receipt) -> Check:
    checkpoint = _checkpoint(receipt)
    try:
        verify_inclusion(
            leaf_hash(receipt.leaf),
            receipt.leaf_index,
            receipt.tree_size,
            receipt.inclusion_proof,
            receipt.root,
        )
    except ProofError as exc:
        return Check("inclusion", False, f"leaf not proven in {checkpoint}: {exc}")
    return Check("inclusion", True, f"leaf {receipt.leaf_index} is in {checkpoint}")


def _check_anchor(
    receipt: Receipt,
    trust: TrustRoot | None,
    facts: AnchorFacts | None,
    facts_problem: str | None,
    depth: int | str,
) -> Check:
    checkpoint = _checkpoint(receipt)
    tx = receipt.transaction_hash
    if trust is not None:
        if receipt.chain_id != trust.chain_id:
            return _fail(f"receipt names chain {receipt.chain_id}, the trust root {trust.chain_id}")
        if receipt.contract.lower() != trust.contract.lower():
            return _fail(
                f"receipt names contract {receipt.contract}, the trust root {trust.contract}"
            )
    if facts is None:
        return _fail(facts_problem or "not checked")
    contract, chain_id = facts.contract, facts.chain_id
    if receipt.contract.lower() != contract.lower():
        return _fail(f"receipt names contract {receipt.contract}, the facts are of {contract}")
    if chain_id != receipt.chain_id:
        return _fail(
            f"the node serves chain {chain_id}, but the receipt was anchored on chain "
            f"{receipt.chain_id}"
        )
    if not facts.has_code:
        return _fail(f"there is no contract at {contract} on chain {chain_id}")
    if facts.block_number is None:
        return _fail(
            f"transaction {tx} is not a successful call of contract {contract} on chain {chain_id}"
        )
    if facts.block_number != receipt.block_number:
        return _fail(
            f"transaction {tx} was mined in block {facts.block_number}, the receipt says block "
            f"{receipt.block_number}"
        )
    if trust is not None and not trust.is_sender(facts.sender):
        return _fail(f"transaction {tx} was sent by {facts.sender}, not a pinned anchor sender")
    recorded = [(size, root) for size, root in facts.checkpoints]
    if (receipt.tree_size, receipt.root) not in recorded:
        shown = ", ".join(f"(tree size {size}, root {root.hex()})" for size, root in recorded)
        return _fail(
            f"transaction {tx} anchored {shown or 'no checkpoint'}, not the receipt's "
            f"{checkpoint}: the receipt cites another anchor"
        )
    if facts.root_at_size != receipt.root:
        held = facts.root_at_size.hex() if facts.root_at_size else "nothing"
        return _fail(
            f"contract {contract} holds {held} for tree size {receipt.tree_size}, not the "
            f"receipt's root {receipt.root.hex()}"
        )
    confirmations = facts.confirmations()
    if depth == FINALIZED and confirmations < 1:
        return _fail(f"block {facts.block_number} is not finalized yet")
    if isinstance(depth, int) and confirmations < depth:
        return _fail(
            f"block {facts.block_number} has {confirmations} confirmation(s), {depth} required"
        )
    depth_text = "finalized" if depth == FINALIZED else f"{confirmations} confirmation(s)"
    return Check(
        "anchor",
        True,
        f"{checkpoint} is anchored in contract {contract} on chain {chain_id} by transaction "
        f"{tx} from {facts.sender} in block {facts.block_number} ({depth_text})",
    )


def _fail(detail: str) -> Check:
    return Check("anchor", False, detail)


def _checkpoint(receipt: Receipt) -> str:
    return f"checkpoint (tree size {receipt.tree_size}, root {receipt.root.hex()})"


def _chain_errors() -> tuple[type[Exception], ...]:
    # ledger.chain pulls in web3, so it is imported only once a chain is queried.
    # Without it there is no ChainError to catch: an empty tuple catches nothing.
    try:
        from ledger.chain import ChainError
    except ImportError:
        return ()
    return (ChainError,)


def printable(text: str) -> str:
    """``text`` with every non-printable character (control codes, terminal escapes,
    bidirectional overrides) shown as a Python escape, so what a receipt says cannot
    rewrite the terminal it is printed on."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


# --- Command line ----------------------------------------------------------------------


def _default_chain_factory(rpc_url: str, contract: str) -> AnchorReader:
    from ledger.chain import AnchorChain

    return AnchorChain(rpc_url, contract)


chain_factory: Callable[[str, str], AnchorReader] = _default_chain_factory
"""Builds the chain reader for ``(rpc_url, contract address)``; tests swap it for a fake."""


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line. Exit status: 0 verified, 1 a check failed, 2 usage or I/O
    error (reported on stderr), 3 UNPINNED (no trust root and no --insecure-no-trust-root)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad usage
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        trust = _load_trust_root(args.trust_root) if args.trust_root else None
        items = _load_items(args)
        confirmations = _confirmations(args.confirmations)
        chain = _connect(args.rpc_url, trust, items)
    except _UsageError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE

    started = time.perf_counter()
    results = verify_batch(
        items,
        chain=chain,
        trust_root=trust,
        insecure_no_trust_root=args.insecure_no_trust_root,
        confirmations=confirmations,
        expected_key_id=args.key_id,
    )
    elapsed = time.perf_counter() - started
    unpinned = trust is None and not args.insecure_no_trust_root
    if args.batch:
        _print_batch(items, results, elapsed, as_json=args.json)
    else:
        _print_one(results[0], as_json=args.json, unpinned=unpinned)
    verified = all(check.ok for checks in results for check in checks)
    if unpinned:
        return EXIT_UNPINNED
    return EXIT_VERIFIED if verified else EXIT_NOT_VERIFIED


def _print_one(checks: list[Check], *, as_json: bool, unpinned: bool) -> None:
    verified = all(check.ok for check in checks)
    if as_json:
        # json.dumps escapes every control and non-ASCII character.
        print(json.dumps([asdict(check) for check in checks], indent=2))
        return
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {printable(check.detail)}")
    print(UNPINNED if unpinned else ("VERIFIED" if verified else "NOT VERIFIED"))


def _print_batch(
    items: list[tuple[Any, Any]], results: list[list[Check]], elapsed: float, *, as_json: bool
) -> None:
    verified = 0
    for number, checks in enumerate(results, start=1):
        failed = [check for check in checks if not check.ok]
        verified += not failed
        if as_json:
            print(
                json.dumps(
                    {"item": number, "ok": not failed, "checks": [asdict(c) for c in checks]}
                )
            )
        elif failed:
            reasons = "; ".join(f"{check.name}: {check.detail}" for check in failed)
            print(printable(f"FAIL item {number}: {reasons}"))
    if not as_json:
        rate = len(results) / elapsed if elapsed > 0 else float("inf")
        print(
            f"{verified} of {len(results)} verified, {len(results) - verified} not "
            f"({rate:,.0f} receipts/s)"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify",
        description="Verify STIX objects against their cti-portal receipts, independently "
        "of the portal.",
    )
    parser.add_argument("object", metavar="OBJECT.json", nargs="?", help="the object as sealed")
    parser.add_argument("receipt", metavar="RECEIPT.json", nargs="?", help="its receipt")
    parser.add_argument(
        "--batch",
        metavar="ITEMS.jsonl",
        help='many items: one JSON line {"object": ..., "receipt": ...} per item',
    )
    parser.add_argument(
        "--trust-root",
        metavar="TRUST.json",
        help="the trust root pinned out of band (chain, contract, anchor senders, keys)",
    )
    parser.add_argument(
        "--insecure-no-trust-root",
        action="store_true",
        help="check self-consistency only, believing the receipt's own contract and key",
    )
    parser.add_argument(
        "--rpc-url",
        metavar="URL",
        help="JSON-RPC URL of a node of the anchoring chain (without it the anchor check fails)",
    )
    parser.add_argument(
        "--confirmations",
        metavar="N|finalized",
        help="required depth of the anchoring block (default: the trust root's, else 1)",
    )
    parser.add_argument("--key-id", metavar="KEYID", help="also require this signing key id")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


def _confirmations(value: str | None) -> int | str | None:
    if value is None or value == FINALIZED:
        return value
    try:
        depth = int(value)
    except ValueError:
        depth = 0
    if depth < 1:
        raise _UsageError('--confirmations must be a positive integer or "finalized"')
    return depth


def _load_trust_root(path: str) -> TrustRoot:
    try:
        return parse_trust_root(_load_json(path))
    except TrustRootError as exc:
        raise _UsageError(f"{path} is not a usable trust root: {exc}") from exc


def _load_items(args: argparse.Namespace) -> list[tuple[Any, Any]]:
    if args.batch:
        if args.object or args.receipt:
            raise _UsageError("give either OBJECT.json RECEIPT.json or --batch, not both")
        return _load_batch(args.batch)
    if not (args.object and args.receipt):
        raise _UsageError("give OBJECT.json and RECEIPT.json, or --batch ITEMS.jsonl")
    obj = _load_json(args.object)
    if not isinstance(obj, dict):
        raise _UsageError(f"{args.object} must hold one JSON object (the STIX object)")
    return [(obj, _load_json(args.receipt))]


def _load_batch(path: str) -> list[tuple[Any, Any]]:
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse_json(line, f"{path} line {number}")
        if not isinstance(item, dict) or not isinstance(item.get("object"), dict):
            raise _UsageError(f'{path} line {number} must be {{"object": {{...}}, "receipt": ...}}')
        items.append((item["object"], item.get("receipt")))
    if not items:
        raise _UsageError(f"{path} holds no items")
    return items


def _load_json(path: str) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _parse_json(raw, path)


def _parse_json(raw: bytes, name: str) -> Any:
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise _UsageError(f"{name} is not valid JSON: {exc}") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8785 3.1 requires I-JSON (RFC 7493 2.3): member names must be unique, or
    # two readers of the same text could hash different objects.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate member name {key!r}")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _connect(
    rpc_url: str | None, trust: TrustRoot | None, items: list[tuple[Any, Any]]
) -> AnchorReader | None:
    """A reader bound to the pinned contract; without a trust root, to the first readable
    receipt's contract (which is why that mode is insecure)."""
    if not rpc_url:
        return None
    contract = trust.contract if trust else None
    for _, receipt_doc in items if contract is None else ():
        try:
            contract = parse_receipt(receipt_doc).contract
            break
        except ReceiptFormatError:
            continue
    if contract is None:
        return None  # verify_item reports the receipts; the anchor check is skipped
    try:
        return chain_factory(rpc_url, contract)
    except (*_chain_errors(), ValueError) as exc:
        raise _UsageError(f"cannot use RPC URL {rpc_url}: {exc}") from exc


if __name__ == "__main__":
    sys.exit(main())
