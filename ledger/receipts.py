"""The receipt: a versioned JSON document that proves an item was sealed.

A receipt carries everything needed to check an item without trusting the portal:
the salt and hash that bind it to a leaf (RFC 8785 canonical bytes, SHA-256), the
portal's Ed25519 signature over that leaf, an RFC 9162 inclusion proof of the leaf
in a log checkpoint, and the on-chain transaction that anchored the checkpoint.
Byte values are lower-case hex; Ethereum values keep their 0x prefix.

This module only builds and parses; ledger.verify checks. No Django here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.canonical import SALT_BYTES
from ledger.signing import key_id as key_id_for

RECEIPT_TYPE = "cti-portal-receipt"
RECEIPT_VERSION = 1  # the version build_receipt writes; build_receipt_v2 writes 2
RECEIPT_VERSIONS = (1, 2)
# Version 2: the fields a verifier must understand, listed in the receipt's "critical". A
# receipt naming a field outside this set is refused (a later security field cannot be ignored),
# and so is one that leaves any of them out (a field cannot be stripped silently).
CRITICAL_V2 = ("subject", "salt", "leaf", "signature", "log", "anchor")
CUSTODIES = ("portal-held", "organisation-held")
CANONICALIZATION = "RFC8785"
HASH_ALGORITHM = "SHA-256"
SIGNATURE_ALGORITHM = "Ed25519"

_HASH_BYTES = 32
_PUBLIC_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_KEY_ID = re.compile(r"ed25519:[0-9a-f]{32}")


class ReceiptFormatError(ValueError):
    """The document is not a well-formed receipt; ``str()`` names the offending field."""


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt, byte fields decoded."""

    subject: str
    canonical_hash: bytes | None  # version 1 only
    salt: bytes
    leaf: bytes
    signature: bytes
    key_id: str
    public_key: bytes
    leaf_index: int
    tree_size: int
    root: bytes
    inclusion_proof: tuple[bytes, ...]
    chain_id: int
    contract: str
    transaction_hash: str
    block_number: int
    version: int = 1
    organisation: str | None = None  # version 2: the signed organisation identity
    # Version 2, informational (neither signed nor critical): who holds the key's private half,
    # "portal-held" or "organisation-held". The trust root is what a verifier believes.
    custody: str | None = None


def build_receipt(
    *,
    subject: str,
    canonical_hash: bytes,
    salt: bytes,
    leaf: bytes,
    signature: bytes,
    public_key: bytes,
    leaf_index: int,
    tree_size: int,
    root: bytes,
    inclusion_proof: Sequence[bytes],
    chain_id: int,
    contract: str,
    transaction_hash: str,
    block_number: int,
) -> dict[str, Any]:
    """The receipt document for one sealed, logged and anchored item.

    ``canonical_hash`` is the SHA-256 of the item's RFC 8785 bytes.
    ``contract`` should be the EIP-55 checksummed address, ``transaction_hash`` a
    0x-prefixed 32-byte hash. The result is checked with parse_receipt, so a
    malformed input raises ReceiptFormatError here rather than producing a receipt
    nobody can read. Whether the parts agree (signature, proof, anchor) is left to
    ledger.verify.
    """
    doc: dict[str, Any] = {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "subject": subject,
        "canonicalization": CANONICALIZATION,
        "hash_algorithm": HASH_ALGORITHM,
        "canonical_hash": bytes(canonical_hash).hex(),
        "salt": bytes(salt).hex(),
        "leaf": bytes(leaf).hex(),
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_id": key_id_for(bytes(public_key)),
            "public_key": bytes(public_key).hex(),
            "value": bytes(signature).hex(),
        },
        "log": {
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "root": bytes(root).hex(),
            "inclusion_proof": [bytes(node).hex() for node in inclusion_proof],
        },
        "anchor": {
            "chain_id": chain_id,
            "contract": contract,
            "transaction_hash": transaction_hash,
            "block_number": block_number,
        },
    }
    parse_receipt(doc)
    return doc


def build_receipt_v2(
    *,
    subject: str,
    organisation: str,
    salt: bytes,
    leaf: bytes,
    signature: bytes,
    public_key: bytes,
    leaf_index: int,
    tree_size: int,
    root: bytes,
    inclusion_proof: Sequence[bytes],
    chain_id: int,
    contract: str,
    transaction_hash: str,
    block_number: int,
    custody: str | None = None,
) -> dict[str, Any]:
    """The version 2 receipt: no unsalted content hash, a signature over the statement
    (organisation, key id, leaf, subject: ledger.signing.statement_bytes), and the list of
    critical fields. ``custody`` ("portal-held" or "organisation-held") is added to the
    signature block for people to read; it is not signed and not critical (the trust root pins
    the real one, and ledger.verify refuses a receipt that contradicts it). Checked with
    parse_receipt like build_receipt."""
    doc: dict[str, Any] = {
        "type": RECEIPT_TYPE,
        "version": 2,
        "critical": list(CRITICAL_V2),
        "subject": subject,
        "canonicalization": CANONICALIZATION,
        "hash_algorithm": HASH_ALGORITHM,
        "salt": bytes(salt).hex(),
        "leaf": bytes(leaf).hex(),
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "statement": "cti-portal:statement:v2",
            "organisation": organisation,
            "key_id": key_id_for(bytes(public_key)),
            "public_key": bytes(public_key).hex(),
            "value": bytes(signature).hex(),
        },
        "log": {
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "root": bytes(root).hex(),
            "inclusion_proof": [bytes(node).hex() for node in inclusion_proof],
        },
        "anchor": {
            "chain_id": chain_id,
            "contract": contract,
            "transaction_hash": transaction_hash,
            "block_number": block_number,
        },
    }
    if custody is not None:
        doc["signature"]["custody"] = custody
    parse_receipt(doc)
    return doc


def parse_receipt(doc: Any) -> Receipt:
    """Decode a receipt document (already parsed from JSON).

    Checks structure only: the type and version, that every field is present with
    the right JSON type, that hex decodes to the right length, that the leaf index
    lies inside the tree. Unknown extra fields are ignored so later minor additions
    stay readable. Raises ReceiptFormatError naming the first bad field.
    """
    top = _object(doc, "receipt")
    receipt_type = _field(top, "type", str, "receipt")
    if receipt_type != RECEIPT_TYPE:
        raise ReceiptFormatError(f"type is {receipt_type!r}, expected {RECEIPT_TYPE!r}")
    version = _field(top, "version", int, "receipt")
    if version not in RECEIPT_VERSIONS:
        raise ReceiptFormatError(
            f"unsupported receipt version {version}; this verifier reads versions 1 and 2"
        )
    organisation = custody = None
    if version == 2:
        _check_critical(top)
        if "canonical_hash" in top:
            raise ReceiptFormatError(
                "a version 2 receipt must not carry canonical_hash (an unsalted hash lets "
                "anyone holding the receipt confirm a guess of the content)"
            )
    _expect(top, "canonicalization", CANONICALIZATION, "receipt")
    _expect(top, "hash_algorithm", HASH_ALGORITHM, "receipt")

    signature = _field(top, "signature", Mapping, "receipt")
    _expect(signature, "algorithm", SIGNATURE_ALGORITHM, "signature")
    if version == 2:
        _expect(signature, "statement", "cti-portal:statement:v2", "signature")
        organisation = _field(signature, "organisation", str, "signature")
        if not organisation or not organisation.isprintable():
            raise ReceiptFormatError("signature.organisation must be a printable identity")
        custody = signature.get("custody")
        if custody is not None and custody not in CUSTODIES:
            raise ReceiptFormatError(f"signature.custody must be one of {', '.join(CUSTODIES)}")
    key_id = _field(signature, "key_id", str, "signature")
    if not _KEY_ID.fullmatch(key_id):
        raise ReceiptFormatError(
            f"signature.key_id {key_id!r} is not 'ed25519:' followed by 32 lower-case hex digits"
        )

    log = _field(top, "log", Mapping, "receipt")
    leaf_index = _count(log, "leaf_index", "log")
    tree_size = _count(log, "tree_size", "log")
    if leaf_index >= tree_size:
        raise ReceiptFormatError(
            f"log.leaf_index {leaf_index} is outside a tree of size {tree_size}"
        )
    proof = _field(log, "inclusion_proof", list, "log")
    inclusion_proof = tuple(
        _decode_hex(node, f"log.inclusion_proof[{position}]", _HASH_BYTES)
        for position, node in enumerate(proof)
    )

    anchor = _field(top, "anchor", Mapping, "receipt")
    chain_id = _count(anchor, "chain_id", "anchor")
    if chain_id == 0:
        raise ReceiptFormatError("anchor.chain_id must be a positive integer")
    contract = _field(anchor, "contract", str, "anchor")
    if not _ADDRESS.fullmatch(contract):
        raise ReceiptFormatError(
            f"anchor.contract {contract!r} is not a 0x-prefixed 20-byte hex address"
        )
    transaction_hash = _field(anchor, "transaction_hash", str, "anchor")
    if not _TX_HASH.fullmatch(transaction_hash):
        raise ReceiptFormatError(
            f"anchor.transaction_hash {transaction_hash!r} is not a 0x-prefixed 32-byte hex hash"
        )

    subject = _field(top, "subject", str, "receipt")
    if not subject.isprintable():
        raise ReceiptFormatError(
            "subject holds a non-printable character (a control code or terminal escape)"
        )

    return Receipt(
        subject=subject,
        canonical_hash=(
            _hex_field(top, "canonical_hash", "receipt", _HASH_BYTES) if version == 1 else None
        ),
        salt=_hex_field(top, "salt", "receipt", SALT_BYTES),
        leaf=_hex_field(top, "leaf", "receipt", _HASH_BYTES),
        signature=_hex_field(signature, "value", "signature", _SIGNATURE_BYTES),
        key_id=key_id,
        public_key=_hex_field(signature, "public_key", "signature", _PUBLIC_KEY_BYTES),
        leaf_index=leaf_index,
        tree_size=tree_size,
        root=_hex_field(log, "root", "log", _HASH_BYTES),
        inclusion_proof=inclusion_proof,
        chain_id=chain_id,
        contract=contract,
        transaction_hash=transaction_hash,
        block_number=_count(anchor, "block_number", "anchor"),
        version=version,
        organisation=organisation,
        custody=custody,
    )


def _check_critical(top: Mapping[str, Any]) -> None:
    critical = _field(top, "critical", list, "receipt")
    if not all(isinstance(name, str) for name in critical):
        raise ReceiptFormatError("critical must be a list of field names")
    unknown = [name for name in critical if name not in CRITICAL_V2]
    if unknown:
        raise ReceiptFormatError(
            f"critical names {', '.join(map(repr, unknown))}, which this verifier does not "
            f"understand: refusing rather than ignoring it"
        )
    stripped = [name for name in CRITICAL_V2 if name not in critical]
    if stripped:
        raise ReceiptFormatError(
            f"critical leaves out {', '.join(map(repr, stripped))}: a version 2 receipt lists "
            f"every field a verifier must understand"
        )


def _name(key: str, where: str) -> str:
    """The dotted path of a field, as error messages show it."""
    return key if where == "receipt" else f"{where}.{key}"


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ReceiptFormatError(f"{name} must be a JSON object, got {_json_type(value)}")
    return value


def _field(container: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    name = _name(key, where)
    if key not in container:
        raise ReceiptFormatError(f"{name} is missing")
    value = container[key]
    # bool is an int in Python but not a number in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ReceiptFormatError(
            f"{name} must be a JSON {_KIND_NAMES[kind]}, got {_json_type(value)}"
        )
    return value


def _expect(container: Mapping[str, Any], key: str, expected: str, where: str) -> None:
    value = _field(container, key, str, where)
    if value != expected:
        raise ReceiptFormatError(
            f"{_name(key, where)} is {value!r}; only {expected!r} is supported"
        )


def _count(container: Mapping[str, Any], key: str, where: str) -> int:
    value = _field(container, key, int, where)
    if value < 0:
        raise ReceiptFormatError(f"{_name(key, where)} must not be negative, got {value}")
    return value


def _hex_field(container: Mapping[str, Any], key: str, where: str, length: int) -> bytes:
    return _decode_hex(_field(container, key, str, where), _name(key, where), length)


def _decode_hex(value: Any, name: str, length: int) -> bytes:
    if not isinstance(value, str):
        raise ReceiptFormatError(f"{name} must be a hex string, got {_json_type(value)}")
    decoded = b"" if value == "" else None
    # isalnum() first: bytes.fromhex alone would also accept spaces between the digits.
    if value.isascii() and value.isalnum() and len(value) % 2 == 0:
        try:
            decoded = bytes.fromhex(value)
        except ValueError:
            decoded = None
    if decoded is None:
        raise ReceiptFormatError(f"{name} is not valid hex")
    if len(decoded) != length:
        raise ReceiptFormatError(f"{name} must be {length} bytes, got {len(decoded)}")
    return decoded


_KIND_NAMES: dict[type, str] = {str: "string", int: "integer", list: "array", Mapping: "object"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
