import copy
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.canonical import canonicalize, item_leaf, new_salt, sha256
from ledger.merkle import InMemoryStore, append_nodes, inclusion_proof, root
from ledger.receipts import (
    RECEIPT_TYPE,
    RECEIPT_VERSION,
    Receipt,
    ReceiptFormatError,
    build_receipt,
    parse_receipt,
)
from ledger.signing import generate_keypair, key_id, sign

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TRANSACTION = "0x" + "5e" * 32
BLOCK = 5

INDICATOR = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "Phishing domain",
    "pattern": "[domain-name:value = 'login-example.test']",
    "pattern_type": "stix",
    "valid_from": "2026-01-01T00:00:00Z",
    "labels": ["phishing"],
    "confidence": 80,
}


@dataclass(frozen=True)
class Sealed:
    """One item sealed into a tiny in-memory log, with its receipt."""

    obj: dict[str, Any]
    receipt: dict[str, Any]
    public_key: bytes
    tree_size: int
    root: bytes


def seal_in_log(obj: dict[str, Any] = INDICATOR, *, position: int = 2, size: int = 5) -> Sealed:
    """Seal ``obj`` as leaf ``position`` of a log of ``size`` items, as the portal would."""
    private_key, public_key = generate_keypair()
    sealed = []
    for index in range(size):
        item = obj if index == position else {**obj, "name": f"other indicator {index}"}
        canonical = canonicalize(item)
        salt = new_salt()
        sealed.append((canonical, salt, item_leaf(salt, canonical)))
    store = InMemoryStore()
    store.put_nodes(append_nodes(0, [leaf for _, _, leaf in sealed], store))
    canonical, salt, leaf = sealed[position]
    root_hash = root(size, store)
    receipt = build_receipt(
        subject=f"{obj['id']}@{obj['modified']}",
        canonical_hash=sha256(canonical),
        salt=salt,
        leaf=leaf,
        signature=sign(private_key, leaf),
        public_key=public_key,
        leaf_index=position,
        tree_size=size,
        root=root_hash,
        inclusion_proof=inclusion_proof(position, size, store),
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        transaction_hash=TRANSACTION,
        block_number=BLOCK,
    )
    return Sealed(
        obj=copy.deepcopy(obj),
        receipt=receipt,
        public_key=public_key,
        tree_size=size,
        root=root_hash,
    )


def test_a_receipt_has_the_documented_shape() -> None:
    sealed = seal_in_log()
    doc = sealed.receipt
    assert list(doc) == [
        "type",
        "version",
        "subject",
        "canonicalization",
        "hash_algorithm",
        "canonical_hash",
        "salt",
        "leaf",
        "signature",
        "log",
        "anchor",
    ]
    assert doc["type"] == RECEIPT_TYPE == "cti-portal-receipt"
    assert doc["version"] == RECEIPT_VERSION == 1
    assert (
        doc["subject"] == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f@2026-01-01T00:00:00.000Z"
    )
    assert doc["canonicalization"] == "RFC8785"
    assert doc["hash_algorithm"] == "SHA-256"
    assert doc["canonical_hash"] == sha256(canonicalize(INDICATOR)).hex()
    assert set(doc["signature"]) == {"algorithm", "key_id", "public_key", "value"}
    assert doc["signature"]["algorithm"] == "Ed25519"
    assert doc["signature"]["key_id"] == key_id(sealed.public_key)
    assert doc["signature"]["public_key"] == sealed.public_key.hex()
    assert set(doc["log"]) == {"leaf_index", "tree_size", "root", "inclusion_proof"}
    assert doc["log"]["root"] == sealed.root.hex()
    assert doc["anchor"] == {
        "chain_id": CHAIN_ID,
        "contract": CONTRACT,
        "transaction_hash": TRANSACTION,
        "block_number": BLOCK,
    }


def test_a_receipt_survives_a_json_round_trip() -> None:
    doc = seal_in_log().receipt
    assert parse_receipt(json.loads(json.dumps(doc))) == parse_receipt(doc)


def test_parsing_decodes_the_bytes() -> None:
    sealed = seal_in_log(position=3, size=7)
    receipt = parse_receipt(sealed.receipt)
    assert isinstance(receipt, Receipt)
    assert receipt.canonical_hash == sha256(canonicalize(INDICATOR))
    assert receipt.leaf == item_leaf(receipt.salt, canonicalize(INDICATOR))
    assert receipt.public_key == sealed.public_key
    assert len(receipt.signature) == 64
    assert (receipt.leaf_index, receipt.tree_size, receipt.root) == (3, 7, sealed.root)
    assert len(receipt.inclusion_proof) == 3
    assert all(len(node) == 32 for node in receipt.inclusion_proof)
    assert (receipt.chain_id, receipt.contract, receipt.block_number) == (31337, CONTRACT, 5)
    assert receipt.transaction_hash == TRANSACTION


def test_a_parsed_receipt_is_frozen() -> None:
    receipt = parse_receipt(seal_in_log().receipt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.tree_size = 99  # type: ignore[misc]


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc[part]
    doc[last] = value


def _delete(doc: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc[part]
    del doc[last]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("type", "stix-bundle", "type is 'stix-bundle'"),
        ("version", 3, "unsupported receipt version 3; this verifier reads versions 1 and 2"),
        ("version", "1", "version must be a JSON integer, got string"),
        ("version", True, "version must be a JSON integer, got boolean"),
        ("canonicalization", "JCS-ish", "canonicalization is 'JCS-ish'"),
        ("hash_algorithm", "SHA-1", "hash_algorithm is 'SHA-1'"),
        ("canonical_hash", "zz" * 32, "canonical_hash is not valid hex"),
        ("canonical_hash", "abc", "canonical_hash is not valid hex"),
        ("salt", "00" * 31, "salt must be 32 bytes, got 31"),
        ("leaf", 7, "leaf must be a JSON string, got number"),
        ("subject", None, "subject must be a JSON string, got null"),
        ("signature", "sig", "signature must be a JSON object, got string"),
        ("signature.algorithm", "ECDSA", "signature.algorithm is 'ECDSA'"),
        ("signature.key_id", "rsa:1234", "signature.key_id 'rsa:1234' is not"),
        ("signature.public_key", "00" * 33, "signature.public_key must be 32 bytes"),
        ("signature.value", "00" * 32, "signature.value must be 64 bytes"),
        ("log.leaf_index", 5, "log.leaf_index 5 is outside a tree of size 5"),
        ("log.leaf_index", -1, "log.leaf_index must not be negative"),
        ("log.tree_size", 2.0, "log.tree_size must be a JSON integer, got number"),
        ("log.root", "", "log.root must be 32 bytes, got 0"),
        ("log.inclusion_proof", "00" * 32, "log.inclusion_proof must be a JSON array"),
        ("log.inclusion_proof", ["00" * 32, "xyz"], "log.inclusion_proof[1] is not valid hex"),
        ("anchor.chain_id", 0, "anchor.chain_id must be a positive integer"),
        ("anchor.contract", "0x1234", "anchor.contract '0x1234' is not"),
        ("anchor.transaction_hash", "5e" * 32, "anchor.transaction_hash"),
        ("anchor.block_number", "5", "anchor.block_number must be a JSON integer"),
    ],
)
def test_it_names_the_bad_field(path: str, value: Any, message: str) -> None:
    doc = copy.deepcopy(seal_in_log().receipt)
    _set(doc, path, value)
    with pytest.raises(ReceiptFormatError) as excinfo:
        parse_receipt(doc)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "path",
    [
        "type",
        "version",
        "subject",
        "canonical_hash",
        "salt",
        "leaf",
        "signature",
        "signature.value",
        "log.root",
        "log.inclusion_proof",
        "anchor",
        "anchor.transaction_hash",
    ],
)
def test_it_names_the_missing_field(path: str) -> None:
    doc = copy.deepcopy(seal_in_log().receipt)
    _delete(doc, path)
    with pytest.raises(ReceiptFormatError, match=f"^{path} is missing$"):
        parse_receipt(doc)


@pytest.mark.parametrize("doc", [None, [], "receipt", 1])
def test_it_refuses_a_document_that_is_not_an_object(doc: Any) -> None:
    with pytest.raises(ReceiptFormatError, match="receipt must be a JSON object"):
        parse_receipt(doc)


def test_it_ignores_unknown_fields() -> None:
    doc = copy.deepcopy(seal_in_log().receipt)
    doc["issued_by"] = "a future portal"
    doc["log"]["origin"] = "somewhere"
    parse_receipt(doc)


def test_it_accepts_upper_case_hex() -> None:
    doc = copy.deepcopy(seal_in_log().receipt)
    doc["leaf"] = doc["leaf"].upper()
    assert parse_receipt(doc).leaf.hex() == doc["leaf"].lower()


def test_building_refuses_malformed_parts() -> None:
    sealed = seal_in_log()
    receipt = parse_receipt(sealed.receipt)
    with pytest.raises(ReceiptFormatError, match="salt must be 32 bytes"):
        build_receipt(
            subject="x",
            canonical_hash=sha256(canonicalize(INDICATOR)),
            salt=receipt.salt[:16],
            leaf=receipt.leaf,
            signature=receipt.signature,
            public_key=receipt.public_key,
            leaf_index=receipt.leaf_index,
            tree_size=receipt.tree_size,
            root=receipt.root,
            inclusion_proof=receipt.inclusion_proof,
            chain_id=CHAIN_ID,
            contract=CONTRACT,
            transaction_hash=TRANSACTION,
            block_number=BLOCK,
        )


def test_receipt_format_errors_are_value_errors() -> None:
    assert issubclass(ReceiptFormatError, ValueError)


# --- Version 2 ---------------------------------------------------------------------------


def version_2(sealed: Sealed) -> dict[str, Any]:
    from ledger.receipts import build_receipt_v2

    doc = copy.deepcopy(sealed.receipt)
    return build_receipt_v2(
        subject=doc["subject"],
        organisation="identity--5b3c6f0e-4a5e-4c3e-9b8f-2f1d0c9e8a7b",
        salt=bytes.fromhex(doc["salt"]),
        leaf=bytes.fromhex(doc["leaf"]),
        signature=bytes(64),
        public_key=sealed.public_key,
        leaf_index=doc["log"]["leaf_index"],
        tree_size=doc["log"]["tree_size"],
        root=bytes.fromhex(doc["log"]["root"]),
        inclusion_proof=[bytes.fromhex(node) for node in doc["log"]["inclusion_proof"]],
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        transaction_hash=TRANSACTION,
        block_number=BLOCK,
    )


def test_a_version_2_receipt_has_no_unsalted_hash_and_lists_its_critical_fields() -> None:
    doc = version_2(seal_in_log())
    assert "canonical_hash" not in doc
    assert doc["critical"] == ["subject", "salt", "leaf", "signature", "log", "anchor"]
    parsed = parse_receipt(doc)
    assert (parsed.version, parsed.canonical_hash) == (2, None)
    assert parsed.organisation == "identity--5b3c6f0e-4a5e-4c3e-9b8f-2f1d0c9e8a7b"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["critical"].remove("log"), "critical leaves out 'log'"),
        (lambda d: d["critical"].append("witness"), "'witness', which this verifier does not"),
        (lambda d: d.__setitem__("critical", "all"), "critical must be a JSON array"),
        (lambda d: d.__setitem__("canonical_hash", "00" * 32), "must not carry canonical_hash"),
        (lambda d: d["signature"].pop("organisation"), "signature.organisation is missing"),
        (lambda d: d["signature"].__setitem__("organisation", ""), "printable identity"),
        (lambda d: d.pop("critical"), "critical is missing"),
        (lambda d: d["signature"].__setitem__("custody", "nobody"), "custody must be one of"),
    ],
)
def test_a_malformed_version_2_receipt_is_refused(change, message) -> None:
    doc = version_2(seal_in_log())
    change(doc)
    with pytest.raises(ReceiptFormatError, match=message):
        parse_receipt(doc)


def test_custody_is_an_informational_field_of_the_signature() -> None:
    from ledger.receipts import CRITICAL_V2

    doc = version_2(seal_in_log())
    assert parse_receipt(doc).custody is None  # optional: older receipts have none
    doc["signature"]["custody"] = "organisation-held"
    assert parse_receipt(doc).custody == "organisation-held"
    assert "custody" not in CRITICAL_V2
