"""Check a sealed item against its receipt without trusting the portal.

Usable as a library (verify_item) and as a command::

    python -m ledger.verify OBJECT.json RECEIPT.json --rpc-url URL [--key-id KEYID] [--json]

Every step is recomputed from the object and the receipt alone: the RFC 8785
canonical hash, the salted leaf, the Ed25519 signature over the leaf, the RFC 9162
inclusion proof of the leaf in a log checkpoint, and finally, from a node of the
chain, that the checkpoint root is anchored in the contract by the named transaction.

No Django here; the chain client (and with it web3) is imported only when a chain
is queried.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger.canonical import CanonicalizationError, canonicalize, item_leaf, sha256
from ledger.merkle import ProofError, leaf_hash, verify_inclusion
from ledger.receipts import Receipt, ReceiptFormatError, parse_receipt
from ledger.signing import key_id, verify_signature

CHECK_NAMES = ("receipt", "canonical_hash", "leaf", "signature", "inclusion", "anchor")

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Check:
    """The outcome of one verification step; ``detail`` says why, for humans."""

    name: str
    ok: bool
    detail: str


class AnchorReader(Protocol):
    """The read side of ledger.chain.AnchorChain that verification uses.

    Failures talking to the node raise ledger.chain.ChainError.
    """

    def chain_id(self) -> int: ...

    def has_code(self, address: str) -> bool: ...

    def anchored_root(self, tree_size: int) -> bytes | None: ...

    def transaction_block(self, tx_hash: str) -> int | None: ...


def verify_item(
    obj: Any,
    receipt_doc: Any,
    *,
    chain: AnchorReader | None,
    expected_key_id: str | None = None,
    expected_contract: str | None = None,
) -> list[Check]:
    """Run every check of ``obj`` (a parsed JSON value) against ``receipt_doc``.

    Returns one Check per name in CHECK_NAMES, in that order; the item is verified
    only if all are ok. A failed check does not stop later ones that can still run;
    if the receipt does not parse, the rest are reported as skipped.

    ``chain`` must read from the contract the receipt names (or the one you trust);
    without it the anchor check fails. ``expected_key_id`` pins the signing key and
    ``expected_contract`` the anchoring contract: without them a receipt is only
    shown to be self-consistent, not to come from the portal you have in mind.
    """
    try:
        receipt = parse_receipt(receipt_doc)
    except ReceiptFormatError as exc:
        skipped = [Check(name, False, "skipped: receipt unreadable") for name in CHECK_NAMES[1:]]
        return [Check("receipt", False, f"receipt unreadable: {exc}"), *skipped]
    canonical, hash_check = _check_canonical_hash(obj, receipt)
    return [
        Check("receipt", True, f"well-formed receipt v1 for {receipt.subject}"),
        hash_check,
        _check_leaf(canonical, receipt, hash_matches=hash_check.ok),
        _check_signature(receipt, expected_key_id),
        _check_inclusion(receipt),
        _check_anchor(receipt, chain, expected_contract),
    ]


def _check_canonical_hash(obj: Any, receipt: Receipt) -> tuple[bytes | None, Check]:
    try:
        canonical = canonicalize(obj)
    except CanonicalizationError as exc:
        return None, Check("canonical_hash", False, f"the object has no canonical form: {exc}")
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
        cause = (
            "the receipt's salt or leaf was altered"
            if hash_matches
            else "this follows from the canonical hash mismatch"
        )
        return Check(
            "leaf",
            False,
            f"leaf mismatch: salt and object give {leaf.hex()}, receipt says "
            f"{receipt.leaf.hex()}; {cause}",
        )
    return Check("leaf", True, f"salted leaf is {leaf.hex()}")


def _check_signature(receipt: Receipt, expected_key_id: str | None) -> Check:
    actual_key_id = key_id(receipt.public_key)
    problems = []
    if actual_key_id != receipt.key_id:
        problems.append(
            f"key id {receipt.key_id} does not match public key {receipt.public_key.hex()}, "
            f"whose key id is {actual_key_id}"
        )
    if expected_key_id is not None and actual_key_id != expected_key_id:
        problems.append(f"signed by key {actual_key_id}, expected key {expected_key_id}")
    if not verify_signature(receipt.public_key, receipt.leaf, receipt.signature):
        problems.append(
            f"the Ed25519 signature does not verify over leaf {receipt.leaf.hex()} with "
            f"public key {receipt.public_key.hex()}"
        )
    if problems:
        return Check("signature", False, "; ".join(problems))
    if expected_key_id is None:
        pinned = "; the key was not pinned: pass --key-id to require the portal's key"
    else:
        pinned = ", the expected key"
    return Check("signature", True, f"valid Ed25519 signature by {actual_key_id}{pinned}")


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
    receipt: Receipt, chain: AnchorReader | None, expected_contract: str | None
) -> Check:
    checkpoint = _checkpoint(receipt)
    contract, chain_id = receipt.contract, receipt.chain_id
    if expected_contract is not None and contract.lower() != expected_contract.lower():
        return Check(
            "anchor", False, f"receipt names contract {contract}, expected {expected_contract}"
        )
    if chain is None:
        return Check(
            "anchor",
            False,
            f"not checked: no RPC URL was given, so nothing confirms that {checkpoint} is "
            f"anchored in contract {contract} on chain {chain_id}",
        )
    try:
        actual_chain_id = chain.chain_id()
        if actual_chain_id != chain_id:
            return Check(
                "anchor",
                False,
                f"the RPC node serves chain {actual_chain_id}, but the receipt was anchored on "
                f"chain {chain_id}",
            )
        if not chain.has_code(contract):
            return Check("anchor", False, f"there is no contract at {contract} on chain {chain_id}")
        anchored = chain.anchored_root(receipt.tree_size)
        if anchored is None:
            return Check(
                "anchor",
                False,
                f"{checkpoint} is not anchored in contract {contract} on chain {chain_id}",
            )
        if anchored != receipt.root:
            return Check(
                "anchor",
                False,
                f"contract {contract} on chain {chain_id} holds root {anchored.hex()} for tree "
                f"size {receipt.tree_size}, not the receipt's {receipt.root.hex()}",
            )
        block = chain.transaction_block(receipt.transaction_hash)
    except (*_chain_errors(), ValueError) as exc:
        return Check("anchor", False, f"could not read the chain: {exc}")
    if block is None:
        return Check(
            "anchor",
            False,
            f"transaction {receipt.transaction_hash} is not a successful anchoring "
            f"transaction of contract {contract} on chain {chain_id}",
        )
    if block != receipt.block_number:
        return Check(
            "anchor",
            False,
            f"transaction {receipt.transaction_hash} was mined in block {block}, the receipt "
            f"says block {receipt.block_number}",
        )
    return Check(
        "anchor",
        True,
        f"{checkpoint} is anchored in contract {contract} on chain {chain_id} by transaction "
        f"{receipt.transaction_hash} in block {block}",
    )


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


# --- Command line ----------------------------------------------------------------------


def _default_chain_factory(rpc_url: str, contract: str) -> AnchorReader:
    from ledger.chain import AnchorChain

    return AnchorChain(rpc_url, contract)


chain_factory: Callable[[str, str], AnchorReader] = _default_chain_factory
"""Builds the chain reader for ``(rpc_url, contract address)``; tests swap it for a fake."""


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns 0 if verified, 1 if a check failed, 2 on usage or
    I/O errors (reported on stderr)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad usage
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        obj = _load_json(args.object)
        receipt_doc = _load_json(args.receipt)
        if not isinstance(obj, dict):
            raise _UsageError(f"{args.object} must hold one JSON object (the STIX object)")
        chain = _connect(args.rpc_url, receipt_doc)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    checks = verify_item(
        obj,
        receipt_doc,
        chain=chain,
        expected_key_id=args.key_id,
        expected_contract=args.contract,
    )
    verified = all(check.ok for check in checks)
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        for check in checks:
            print(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        print("VERIFIED" if verified else "NOT VERIFIED")
    return EXIT_VERIFIED if verified else EXIT_NOT_VERIFIED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify",
        description="Verify a STIX object against its cti-portal receipt, independently "
        "of the portal.",
    )
    parser.add_argument("object", metavar="OBJECT.json", help="the STIX object as sealed")
    parser.add_argument("receipt", metavar="RECEIPT.json", help="the receipt for that object")
    parser.add_argument(
        "--rpc-url",
        metavar="URL",
        help="JSON-RPC URL of a node of the anchoring chain (without it the anchor check fails)",
    )
    parser.add_argument("--key-id", metavar="KEYID", help="require this signing key id")
    parser.add_argument("--contract", metavar="ADDRESS", help="require this anchoring contract")
    parser.add_argument("--json", action="store_true", help="print the checks as a JSON list")
    return parser


def _load_json(path: str) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise _UsageError(f"{path} is not valid JSON: {exc}") from exc


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


def _connect(rpc_url: str | None, receipt_doc: Any) -> AnchorReader | None:
    if not rpc_url:
        return None
    try:
        contract = parse_receipt(receipt_doc).contract
    except ReceiptFormatError:
        return None  # verify_item reports the receipt; the anchor check is skipped
    try:
        return chain_factory(rpc_url, contract)
    except (*_chain_errors(), ValueError) as exc:
        raise _UsageError(f"cannot use RPC URL {rpc_url}: {exc}") from exc


if __name__ == "__main__":
    sys.exit(main())
