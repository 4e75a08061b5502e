import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger import verify
from ledger.signing import generate_keypair, key_id, sign
from ledger.verify import CHECK_NAMES, Check, main, verify_item
from tests.ledger.test_receipts import (
    BLOCK,
    CHAIN_ID,
    CONTRACT,
    INDICATOR,
    TRANSACTION,
    Sealed,
    seal_in_log,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RPC_URL = "http://node.test:8545"


class FakeChain:
    """An in-process stand-in for ledger.chain.AnchorChain's read side."""

    def __init__(
        self,
        *,
        chain_id: int = CHAIN_ID,
        contracts: tuple[str, ...] = (CONTRACT,),
        roots: dict[int, bytes] | None = None,
        transactions: dict[str, int] | None = None,
        error: Exception | None = None,
    ) -> None:
        self._chain_id = chain_id
        self.contracts = {address.lower() for address in contracts}
        self.roots = roots or {}
        self.transactions = transactions or {}
        self.error = error

    def chain_id(self) -> int:
        if self.error:
            raise self.error
        return self._chain_id

    def has_code(self, address: str) -> bool:
        return address.lower() in self.contracts

    def anchored_root(self, tree_size: int) -> bytes | None:
        return self.roots.get(tree_size)

    def transaction_block(self, tx_hash: str) -> int | None:
        return self.transactions.get(tx_hash)


def anchored(sealed: Sealed, **overrides: Any) -> FakeChain:
    """A chain on which the sealed item's checkpoint is anchored as its receipt says."""
    options: dict[str, Any] = {
        "roots": {sealed.tree_size: sealed.root},
        "transactions": {TRANSACTION: BLOCK},
    }
    options.update(overrides)
    return FakeChain(**options)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    assert [check.name for check in checks] == list(CHECK_NAMES)
    return {check.name: check for check in checks}


def _failed(checks: list[Check]) -> set[str]:
    return {check.name for check in checks if not check.ok}


@pytest.fixture(scope="module")
def sealed() -> Sealed:
    return seal_in_log()


# --- verify_item -----------------------------------------------------------------------


def test_a_genuine_item_verifies(sealed: Sealed) -> None:
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed))
    assert _failed(checks) == set()
    details = _by_name(checks)
    assert "not pinned" in details["signature"].detail
    assert f"anchored in contract {CONTRACT} on chain 31337" in details["anchor"].detail


def test_it_verifies_whatever_the_key_order_and_whitespace(sealed: Sealed) -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(sealed.obj.items()))), indent=4))
    assert _failed(verify_item(reordered, sealed.receipt, chain=anchored(sealed))) == set()


def test_it_verifies_with_the_expected_key(sealed: Sealed) -> None:
    checks = verify_item(
        sealed.obj,
        sealed.receipt,
        chain=anchored(sealed),
        expected_key_id=key_id(sealed.public_key),
        expected_contract=CONTRACT.lower(),
    )
    assert _failed(checks) == set()
    assert "the expected key" in _by_name(checks)["signature"].detail


def test_a_changed_object_fails_the_canonical_hash(sealed: Sealed) -> None:
    changed = {**sealed.obj, "confidence": 81}
    checks = verify_item(changed, sealed.receipt, chain=anchored(sealed))
    assert _failed(checks) == {"canonical_hash", "leaf"}
    detail = _by_name(checks)["canonical_hash"].detail
    assert detail.startswith("canonical hash mismatch: object hashes to ")
    assert f"receipt says {sealed.receipt['canonical_hash']}" in detail
    assert "the object was changed after sealing" in detail
    assert "canonical hash mismatch" in _by_name(checks)["leaf"].detail


def test_an_object_without_a_canonical_form_fails(sealed: Sealed) -> None:
    checks = verify_item({**sealed.obj, "x_count": 2**53}, sealed.receipt, chain=anchored(sealed))
    details = _by_name(checks)
    assert not details["canonical_hash"].ok
    assert "no canonical form" in details["canonical_hash"].detail
    assert details["leaf"].detail == "skipped: the object could not be canonicalized"
    assert details["inclusion"].ok


def test_an_altered_salt_fails_the_leaf(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["salt"] = "00" * 32
    checks = verify_item(sealed.obj, receipt, chain=anchored(sealed))
    assert _failed(checks) == {"leaf"}
    assert "salt or leaf was altered" in _by_name(checks)["leaf"].detail


def test_an_altered_proof_element_fails_inclusion(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    node = receipt["log"]["inclusion_proof"][1]
    receipt["log"]["inclusion_proof"][1] = ("1" if node[0] == "0" else "0") + node[1:]
    checks = verify_item(sealed.obj, receipt, chain=anchored(sealed))
    assert _failed(checks) == {"inclusion"}
    detail = _by_name(checks)["inclusion"].detail
    assert detail.startswith(
        f"leaf not proven in checkpoint (tree size 5, root {sealed.root.hex()})"
    )


def test_a_wrong_leaf_index_fails_inclusion(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["log"]["leaf_index"] = 1
    assert _failed(verify_item(sealed.obj, receipt, chain=anchored(sealed))) == {"inclusion"}


def test_a_wrong_expected_key_id_fails_the_signature(sealed: Sealed) -> None:
    other = key_id(generate_keypair()[1])
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed), expected_key_id=other)
    assert _failed(checks) == {"signature"}
    detail = _by_name(checks)["signature"].detail
    assert detail == f"signed by key {key_id(sealed.public_key)}, expected key {other}"


def test_a_signature_by_another_key_fails(sealed: Sealed) -> None:
    _, other_public = generate_keypair()
    receipt = copy.deepcopy(sealed.receipt)
    receipt["signature"]["public_key"] = other_public.hex()
    receipt["signature"]["key_id"] = key_id(other_public)
    checks = verify_item(sealed.obj, receipt, chain=anchored(sealed))
    assert _failed(checks) == {"signature"}
    assert "does not verify" in _by_name(checks)["signature"].detail


def test_a_key_id_that_does_not_match_the_key_fails(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["signature"]["key_id"] = key_id(generate_keypair()[1])
    checks = verify_item(sealed.obj, receipt, chain=anchored(sealed))
    assert _failed(checks) == {"signature"}
    assert "does not match public key" in _by_name(checks)["signature"].detail


def test_a_resigned_altered_leaf_still_fails(sealed: Sealed) -> None:
    # Someone with their own key re-signs a leaf for another object: the leaf is then
    # not in the anchored log, and the key is not the expected one.
    private_key, public_key = generate_keypair()
    receipt = copy.deepcopy(sealed.receipt)
    forged_leaf = bytes(32)
    receipt["leaf"] = forged_leaf.hex()
    receipt["signature"]["public_key"] = public_key.hex()
    receipt["signature"]["key_id"] = key_id(public_key)
    receipt["signature"]["value"] = sign(private_key, forged_leaf).hex()
    checks = verify_item(
        sealed.obj,
        receipt,
        chain=anchored(sealed),
        expected_key_id=key_id(sealed.public_key),
    )
    assert _failed(checks) == {"leaf", "signature", "inclusion"}


def test_a_checkpoint_that_was_never_anchored_fails(sealed: Sealed) -> None:
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed, roots={}))
    assert _failed(checks) == {"anchor"}
    assert _by_name(checks)["anchor"].detail == (
        f"checkpoint (tree size 5, root {sealed.root.hex()}) is not anchored in contract "
        f"{CONTRACT} on chain 31337"
    )


def test_a_different_anchored_root_fails(sealed: Sealed) -> None:
    chain = anchored(sealed, roots={5: bytes(32)})
    checks = verify_item(sealed.obj, sealed.receipt, chain=chain)
    assert _failed(checks) == {"anchor"}
    assert f"holds root {'00' * 32} for tree size 5" in _by_name(checks)["anchor"].detail


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"chain_id": 1},
            "the RPC node serves chain 1, but the receipt was anchored on chain 31337",
        ),
        ({"contracts": ()}, f"there is no contract at {CONTRACT} on chain 31337"),
        ({"transactions": {}}, f"transaction {TRANSACTION} is not a successful anchoring"),
        ({"transactions": {TRANSACTION: 6}}, "mined in block 6, the receipt says block 5"),
    ],
)
def test_a_mismatched_anchor_fails(sealed: Sealed, overrides: dict[str, Any], message: str) -> None:
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed, **overrides))
    assert _failed(checks) == {"anchor"}
    assert message in _by_name(checks)["anchor"].detail


def test_an_unexpected_contract_fails_the_anchor(sealed: Sealed) -> None:
    other = "0x" + "11" * 20
    checks = verify_item(
        sealed.obj, sealed.receipt, chain=anchored(sealed), expected_contract=other
    )
    assert _failed(checks) == {"anchor"}
    assert f"expected {other}" in _by_name(checks)["anchor"].detail


def test_without_a_chain_the_anchor_is_not_checked(sealed: Sealed) -> None:
    checks = verify_item(sealed.obj, sealed.receipt, chain=None)
    assert _failed(checks) == {"anchor"}
    assert "no RPC URL was given" in _by_name(checks)["anchor"].detail


def test_a_chain_error_fails_the_anchor(sealed: Sealed) -> None:
    chain_module = pytest.importorskip("ledger.chain")
    error = chain_module.ChainError("cannot reach ledger node at http://node.test:8545")
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed, error=error))
    assert _failed(checks) == {"anchor"}
    assert _by_name(checks)["anchor"].detail == (
        "could not read the chain: cannot reach ledger node at http://node.test:8545"
    )


def test_an_unreadable_receipt_skips_the_rest(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    del receipt["log"]["root"]
    checks = verify_item(sealed.obj, receipt, chain=anchored(sealed))
    details = _by_name(checks)
    assert not any(check.ok for check in checks)
    assert details["receipt"].detail == "receipt unreadable: log.root is missing"
    assert {check.detail for check in checks[1:]} == {"skipped: receipt unreadable"}


# --- The command line ------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path, sealed: Sealed) -> tuple[Path, Path]:
    obj_path = tmp_path / "indicator.json"
    receipt_path = tmp_path / "receipt.json"
    obj_path.write_text(json.dumps(sealed.obj, indent=2))
    receipt_path.write_text(json.dumps(sealed.receipt, indent=2))
    return obj_path, receipt_path


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch, sealed: Sealed) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []

    def make_chain(rpc_url: str, contract: str) -> FakeChain:
        calls.append((rpc_url, contract))
        return anchored(sealed)

    monkeypatch.setattr(verify, "chain_factory", make_chain)
    return calls


def test_the_command_verifies_a_genuine_item(files, factory, capsys, sealed: Sealed) -> None:
    obj_path, receipt_path = files
    key = key_id(sealed.public_key)
    code = main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL, "--key-id", key])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert factory == [(RPC_URL, CONTRACT)]
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {name}" for name in CHECK_NAMES]
    assert lines[-1] == "VERIFIED"


def test_the_command_reports_a_changed_object(files, factory, capsys) -> None:
    obj_path, receipt_path = files
    obj_path.write_text(json.dumps({**INDICATOR, "name": "Phishing domaiN"}))
    code = main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL canonical_hash: canonical hash mismatch" in out
    assert out.splitlines()[-1] == "NOT VERIFIED"


def test_the_command_fails_without_an_rpc_url(files, factory, capsys) -> None:
    obj_path, receipt_path = files
    assert main([str(obj_path), str(receipt_path)]) == 1
    assert "FAIL anchor: not checked: no RPC URL was given" in capsys.readouterr().out
    assert factory == []


def test_the_command_prints_json(files, factory, capsys) -> None:
    obj_path, receipt_path = files
    code = main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL, "--json"])
    checks = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [check["name"] for check in checks] == list(CHECK_NAMES)
    assert all(check["ok"] is True and check["detail"] for check in checks)


def test_the_command_rejects_a_wrong_key_id(files, factory, capsys) -> None:
    obj_path, receipt_path = files
    other = key_id(generate_keypair()[1])
    assert main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL, "--key-id", other]) == 1
    assert "FAIL signature: signed by key" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("object_text", "receipt_text", "message"),
    [
        ("{not json", None, "indicator.json is not valid JSON"),
        (None, "", "receipt.json is not valid JSON"),
        ("[1, 2]", None, "must hold one JSON object"),
        ('{"type": "indicator", "type": "malware"}', None, "duplicate member name 'type'"),
        ('{"confidence": NaN}', None, "NaN is not a JSON number"),
        (b"\xff\xfe\x00", None, "indicator.json is not valid JSON"),
    ],
)
def test_the_command_rejects_unreadable_input(
    files, factory, capsys, object_text, receipt_text, message
) -> None:
    obj_path, receipt_path = files
    for path, text in ((obj_path, object_text), (receipt_path, receipt_text)):
        if isinstance(text, bytes):
            path.write_bytes(text)
        elif text is not None:
            path.write_text(text)
    assert main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_the_command_rejects_a_missing_file(files, capsys, tmp_path: Path) -> None:
    _, receipt_path = files
    assert main([str(tmp_path / "absent.json"), str(receipt_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_command_rejects_bad_usage(capsys) -> None:
    assert main(["only-one-file.json"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_an_unreadable_receipt_is_a_failed_check_not_a_usage_error(files, factory, capsys) -> None:
    obj_path, receipt_path = files
    receipt_path.write_text(json.dumps({"type": "cti-portal-receipt", "version": 9}))
    assert main([str(obj_path), str(receipt_path), "--rpc-url", RPC_URL]) == 1
    assert "FAIL receipt: receipt unreadable: unsupported receipt version 9" in (
        capsys.readouterr().out
    )
    assert factory == []


def test_it_runs_as_a_module(files) -> None:
    obj_path, receipt_path = files
    result = subprocess.run(
        [sys.executable, "-m", "ledger.verify", str(obj_path), str(receipt_path), "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    checks = json.loads(result.stdout)
    assert [check["name"] for check in checks if not check["ok"]] == ["anchor"]
