import copy
import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger import verify
from ledger.facts import AnchorFacts
from ledger.signing import generate_keypair, key_id, sign
from ledger.trust_root import TrustRoot, build_trust_root, parse_trust_root
from ledger.verify import CHECK_NAMES, Check, main, printable, verify_batch, verify_item
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


SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANCHORED_AT = datetime(2026, 3, 1, tzinfo=UTC)
ORGANISATION = "identity--5b3c6f0e-4a5e-4c3e-9b8f-2f1d0c9e8a7b"


class FakeChain:
    """An in-process stand-in for ledger.chain.AnchorChain's read side."""

    def __init__(
        self,
        facts: AnchorFacts,
        *,
        contract: str = CONTRACT,
        error: Exception | None = None,
    ) -> None:
        self.contract_address = contract
        self.facts = facts
        self.error = error
        self.reads: list[tuple[str, int, int | str]] = []

    def anchor_facts(self, tx_hash: str, tree_size: int, finality: int | str = 1) -> AnchorFacts:
        self.reads.append((tx_hash, tree_size, finality))
        if self.error:
            raise self.error
        return self.facts


def anchored(sealed: Sealed, **overrides: Any) -> FakeChain:
    """A chain on which the sealed item's checkpoint is anchored as its receipt says."""
    facts = AnchorFacts(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        has_code=True,
        transaction_hash=TRANSACTION,
        block_number=BLOCK,
        sender=SENDER,
        checkpoints=((sealed.tree_size, sealed.root),),
        root_at_size=sealed.root,
        anchored_at=int(ANCHORED_AT.timestamp()),
        head_block=BLOCK,
    )
    error = overrides.pop("error", None)
    contract = overrides.pop("bound_to", CONTRACT)
    return FakeChain(dataclasses.replace(facts, **overrides), contract=contract, error=error)


def pinning(sealed: Sealed, **key_overrides: Any) -> TrustRoot:
    """A trust root that pins the sealed item's chain, contract, sender and key."""
    key = {
        "public_key": sealed.public_key,
        "organisation": ORGANISATION,
        "custody": "organisation-held",
        "valid_from": datetime(2026, 1, 1, tzinfo=UTC),
        **key_overrides,
    }
    return parse_trust_root(
        build_trust_root(
            chain_id=CHAIN_ID,
            contract=CONTRACT,
            anchor_senders=[SENDER],
            confirmations=1,
            keys=[key],
        )
    )


def _by_name(checks: list[Check]) -> dict[str, Check]:
    assert [check.name for check in checks] == list(CHECK_NAMES)
    return {check.name: check for check in checks}


def _failed(checks: list[Check]) -> set[str]:
    return {check.name for check in checks if not check.ok}


@pytest.fixture(scope="module")
def sealed() -> Sealed:
    return seal_in_log()


# --- verify_item -----------------------------------------------------------------------


def run(sealed: Sealed, obj: Any = None, receipt: Any = None, **options: Any) -> list[Check]:
    """verify_item pinned by the sealed item's trust root, on a chain that anchored it."""
    options.setdefault("chain", anchored(sealed))
    options.setdefault("trust_root", pinning(sealed))
    return verify_item(
        sealed.obj if obj is None else obj,
        sealed.receipt if receipt is None else receipt,
        **options,
    )


def test_a_genuine_item_verifies(sealed: Sealed) -> None:
    checks = run(sealed)
    assert _failed(checks) == set()
    details = _by_name(checks)
    assert details["trust"].detail.startswith("pinned: chain 31337, contract")
    assert f"(organisation-held key of {ORGANISATION})" in details["signature"].detail
    assert f"anchored in contract {CONTRACT} on chain 31337" in details["anchor"].detail
    assert f"from {SENDER} in block {BLOCK} (1 confirmation(s))" in details["anchor"].detail


def test_without_a_trust_root_it_is_unpinned(sealed: Sealed) -> None:
    checks = verify_item(sealed.obj, sealed.receipt, chain=anchored(sealed))
    assert _failed(checks) == {"trust"}
    assert _by_name(checks)["trust"].detail.startswith("UNPINNED: no trust root was given")


def test_insecure_mode_checks_self_consistency_only(sealed: Sealed) -> None:
    checks = verify_item(
        sealed.obj, sealed.receipt, chain=anchored(sealed), insecure_no_trust_root=True
    )
    assert _failed(checks) == set()
    assert "UNPINNED (insecure, as asked)" in _by_name(checks)["trust"].detail
    assert "the key was not pinned" in _by_name(checks)["signature"].detail


def test_a_reader_may_carry_its_owners_trust_root(sealed: Sealed) -> None:
    chain = anchored(sealed)
    chain.trust_root = pinning(sealed)
    assert _failed(verify_item(sealed.obj, sealed.receipt, chain=chain)) == set()


def test_it_verifies_whatever_the_key_order_and_whitespace(sealed: Sealed) -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(sealed.obj.items()))), indent=4))
    assert _failed(run(sealed, reordered)) == set()


def test_a_changed_object_fails_the_canonical_hash(sealed: Sealed) -> None:
    checks = run(sealed, {**sealed.obj, "confidence": 81})
    assert _failed(checks) == {"canonical_hash", "leaf"}
    detail = _by_name(checks)["canonical_hash"].detail
    assert detail.startswith("canonical hash mismatch: object hashes to ")
    assert f"receipt says {sealed.receipt['canonical_hash']}" in detail
    assert "the object was changed after sealing" in detail
    assert "canonical hash mismatch" in _by_name(checks)["leaf"].detail


def test_an_object_without_a_canonical_form_fails(sealed: Sealed) -> None:
    details = _by_name(run(sealed, {**sealed.obj, "x_count": 2**53}))
    assert not details["canonical_hash"].ok
    assert "no canonical form" in details["canonical_hash"].detail
    assert details["leaf"].detail == "skipped: the object could not be canonicalized"
    assert details["inclusion"].ok


def test_an_altered_salt_fails_the_leaf(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["salt"] = "00" * 32
    checks = run(sealed, receipt=receipt)
    assert _failed(checks) == {"leaf"}
    assert "salt or leaf was altered" in _by_name(checks)["leaf"].detail


def test_an_altered_proof_element_fails_inclusion(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    node = receipt["log"]["inclusion_proof"][1]
    receipt["log"]["inclusion_proof"][1] = ("1" if node[0] == "0" else "0") + node[1:]
    checks = run(sealed, receipt=receipt)
    assert _failed(checks) == {"inclusion"}
    detail = _by_name(checks)["inclusion"].detail
    assert detail.startswith(
        f"leaf not proven in checkpoint (tree size 5, root {sealed.root.hex()})"
    )


def test_a_wrong_leaf_index_fails_inclusion(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["log"]["leaf_index"] = 1
    assert _failed(run(sealed, receipt=receipt)) == {"inclusion"}


def test_a_wrong_expected_key_id_fails_the_signature(sealed: Sealed) -> None:
    other = key_id(generate_keypair()[1])
    checks = run(sealed, expected_key_id=other)
    assert _failed(checks) == {"signature"}
    detail = _by_name(checks)["signature"].detail
    assert detail == f"signed by key {key_id(sealed.public_key)}, expected key {other}"


def test_a_key_outside_the_trust_root_fails(sealed: Sealed) -> None:
    other = seal_in_log()
    checks = run(sealed, trust_root=pinning(other))
    assert _failed(checks) == {"signature"}
    assert "is not a key of the trust root" in _by_name(checks)["signature"].detail


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"valid_from": datetime(2026, 4, 1, tzinfo=UTC)}, "is valid only from 2026-04-01"),
        ({"valid_until": datetime(2026, 2, 1, tzinfo=UTC)}, "expired at 2026-02-01"),
        ({"revoked_at": datetime(2026, 2, 1, tzinfo=UTC)}, "was revoked at 2026-02-01"),
    ],
)
def test_a_key_outside_its_window_fails(sealed: Sealed, window: dict, message: str) -> None:
    checks = run(sealed, trust_root=pinning(sealed, **window))
    assert _failed(checks) == {"signature"}
    detail = _by_name(checks)["signature"].detail
    assert message in detail
    assert "but the checkpoint was anchored at" in detail


def test_a_key_revoked_after_the_checkpoint_still_verifies(sealed: Sealed) -> None:
    trust = pinning(sealed, revoked_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert _failed(run(sealed, trust_root=trust)) == set()


def test_a_signature_by_another_key_fails(sealed: Sealed) -> None:
    _, other_public = generate_keypair()
    receipt = copy.deepcopy(sealed.receipt)
    receipt["signature"]["public_key"] = other_public.hex()
    receipt["signature"]["key_id"] = key_id(other_public)
    checks = run(sealed, receipt=receipt, trust_root=None, insecure_no_trust_root=True)
    assert _failed(checks) == {"signature"}
    assert "does not verify" in _by_name(checks)["signature"].detail


def test_a_key_id_that_does_not_match_the_key_fails(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["signature"]["key_id"] = key_id(generate_keypair()[1])
    checks = run(sealed, receipt=receipt)
    assert _failed(checks) == {"signature"}
    assert "does not match public key" in _by_name(checks)["signature"].detail


def test_a_resigned_altered_leaf_still_fails(sealed: Sealed) -> None:
    # Someone with their own key re-signs a leaf for another object: the leaf is then
    # not in the anchored log, and the key is not a pinned one.
    private_key, public_key = generate_keypair()
    receipt = copy.deepcopy(sealed.receipt)
    forged_leaf = bytes(32)
    receipt["leaf"] = forged_leaf.hex()
    receipt["signature"]["public_key"] = public_key.hex()
    receipt["signature"]["key_id"] = key_id(public_key)
    receipt["signature"]["value"] = sign(private_key, forged_leaf).hex()
    assert _failed(run(sealed, receipt=receipt)) == {"leaf", "signature", "inclusion"}


def test_a_checkpoint_that_was_never_anchored_fails(sealed: Sealed) -> None:
    checks = run(sealed, chain=anchored(sealed, root_at_size=None, anchored_at=None))
    assert _failed(checks) == {"signature", "anchor"}
    assert _by_name(checks)["anchor"].detail == (
        f"contract {CONTRACT} holds nothing for tree size 5, not the receipt's root "
        f"{sealed.root.hex()}"
    )
    assert "cannot be checked" in _by_name(checks)["signature"].detail


def test_a_different_anchored_root_fails(sealed: Sealed) -> None:
    checks = run(sealed, chain=anchored(sealed, root_at_size=bytes(32)))
    assert _failed(checks) == {"anchor"}
    assert f"holds {'00' * 32} for tree size 5" in _by_name(checks)["anchor"].detail


def test_a_transaction_that_anchored_another_checkpoint_fails(sealed: Sealed) -> None:
    # Backdating: the receipt cites the transaction (and block) of an earlier checkpoint.
    earlier = ((3, bytes.fromhex("ab" * 32)),)
    checks = run(sealed, chain=anchored(sealed, checkpoints=earlier))
    assert _failed(checks) == {"anchor"}
    assert "anchored (tree size 3, root abab" in _by_name(checks)["anchor"].detail
    assert "the receipt cites another anchor" in _by_name(checks)["anchor"].detail


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chain_id": 1}, "the node serves chain 1, but the receipt was anchored on chain 31337"),
        ({"has_code": False}, f"there is no contract at {CONTRACT} on chain 31337"),
        ({"block_number": None}, f"transaction {TRANSACTION} is not a successful call"),
        ({"block_number": 6, "head_block": 6}, "mined in block 6, the receipt says block 5"),
        ({"sender": "0x" + "22" * 20}, "not a pinned anchor sender"),
        ({"head_block": BLOCK - 1}, f"block {BLOCK} has 0 confirmation(s), 1 required"),
        ({"bound_to": "0x" + "33" * 20}, "the chain reader is bound to contract 0x3333"),
    ],
)
def test_a_mismatched_anchor_fails(sealed: Sealed, overrides: dict[str, Any], message: str) -> None:
    checks = run(sealed, chain=anchored(sealed, **overrides))
    assert "anchor" in _failed(checks)
    assert message in _by_name(checks)["anchor"].detail


def test_it_requires_the_confirmation_depth_asked_for(sealed: Sealed) -> None:
    chain = anchored(sealed, head_block=BLOCK + 1)
    assert _failed(run(sealed, chain=chain, confirmations=2)) == set()
    checks = run(sealed, chain=chain, confirmations=3)
    assert "has 2 confirmation(s), 3 required" in _by_name(checks)["anchor"].detail
    finalized = run(sealed, chain=chain, confirmations="finalized")
    assert "(finalized)" in _by_name(finalized)["anchor"].detail
    assert chain.reads[-1] == (TRANSACTION, 5, "finalized")


def test_a_receipt_naming_another_contract_fails(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    receipt["anchor"]["contract"] = "0x" + "11" * 20
    checks = run(sealed, receipt=receipt)
    assert _failed(checks) == {"anchor"}
    assert f"the trust root {CONTRACT}" in _by_name(checks)["anchor"].detail


def test_without_a_chain_the_anchor_is_not_checked(sealed: Sealed) -> None:
    checks = run(sealed, chain=None)
    assert _failed(checks) == {"signature", "anchor"}
    assert "no chain node was given" in _by_name(checks)["anchor"].detail


def test_a_chain_error_fails_the_anchor(sealed: Sealed) -> None:
    chain_module = pytest.importorskip("ledger.chain")
    error = chain_module.ChainError("cannot reach ledger node at http://node.test:8545")
    checks = run(sealed, chain=anchored(sealed, error=error))
    assert "anchor" in _failed(checks)
    assert _by_name(checks)["anchor"].detail == (
        "could not read the chain: cannot reach ledger node at http://node.test:8545"
    )


def test_an_unreadable_receipt_skips_the_rest(sealed: Sealed) -> None:
    receipt = copy.deepcopy(sealed.receipt)
    del receipt["log"]["root"]
    checks = run(sealed, receipt=receipt)
    details = _by_name(checks)
    assert [check.name for check in checks if check.ok] == ["trust"]
    assert details["receipt"].detail == "receipt unreadable: log.root is missing"
    assert {check.detail for check in checks[2:]} == {"skipped: receipt unreadable"}


def test_a_batch_reads_each_checkpoint_once(sealed: Sealed) -> None:
    chain = anchored(sealed)
    changed = {**sealed.obj, "name": "changed"}
    results = verify_batch(
        [(sealed.obj, sealed.receipt)] * 50 + [(changed, sealed.receipt)],
        chain=chain,
        trust_root=pinning(sealed),
    )
    assert [not _failed(checks) for checks in results] == [True] * 50 + [False]
    assert chain.reads == [(TRANSACTION, 5, 1)]


def test_printable_escapes_terminal_controls() -> None:
    assert printable("plain text") == "plain text"
    assert printable("a\x1b[2K\rVERIFIED\u202e") == "a\\x1b[2K\\rVERIFIED\\u202e"


# --- The command line ------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path, sealed: Sealed) -> tuple[Path, Path, Path]:
    obj_path = tmp_path / "indicator.json"
    receipt_path = tmp_path / "receipt.json"
    trust_path = tmp_path / "trust-root.json"
    obj_path.write_text(json.dumps(sealed.obj, indent=2))
    receipt_path.write_text(json.dumps(sealed.receipt, indent=2))
    trust_path.write_text(json.dumps(trust_document(sealed)))
    return obj_path, receipt_path, trust_path


def trust_document(sealed: Sealed, **key_overrides: Any) -> dict[str, Any]:
    return build_trust_root(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        anchor_senders=[SENDER],
        confirmations=1,
        keys=[
            {
                "public_key": sealed.public_key,
                "organisation": ORGANISATION,
                "custody": "portal-held",
                "valid_from": datetime(2026, 1, 1, tzinfo=UTC),
                **key_overrides,
            }
        ],
    )


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch, sealed: Sealed) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []

    def make_chain(rpc_url: str, contract: str) -> FakeChain:
        calls.append((rpc_url, contract))
        return anchored(sealed, bound_to=contract)

    monkeypatch.setattr(verify, "chain_factory", make_chain)
    return calls


def command(files: tuple[Path, Path, Path], *extra: str, pinned: bool = True) -> list[str]:
    obj_path, receipt_path, trust_path = files
    args = [str(obj_path), str(receipt_path), "--rpc-url", RPC_URL, *extra]
    return [*args, "--trust-root", str(trust_path)] if pinned else args


def test_the_command_verifies_a_genuine_item(files, factory, capsys) -> None:
    code = main(command(files))
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert factory == [(RPC_URL, CONTRACT)]
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {name}" for name in CHECK_NAMES]
    assert lines[-1] == "VERIFIED"


def test_without_a_trust_root_the_command_says_unpinned(files, factory, capsys) -> None:
    assert main(command(files, pinned=False)) == verify.EXIT_UNPINNED
    out = capsys.readouterr().out
    assert "FAIL trust: UNPINNED" in out
    assert out.splitlines()[-1] == "UNPINNED"


def test_insecure_mode_is_explicit(files, factory, capsys) -> None:
    assert main(command(files, "--insecure-no-trust-root", pinned=False)) == 0
    assert "PASS trust: UNPINNED (insecure, as asked)" in capsys.readouterr().out


def test_the_command_reads_the_root_from_the_pinned_contract(files, factory, sealed) -> None:
    obj_path, receipt_path, _ = files
    receipt = copy.deepcopy(sealed.receipt)
    receipt["anchor"]["contract"] = "0x" + "44" * 20
    receipt_path.write_text(json.dumps(receipt))
    assert main(command(files)) == 1
    assert factory == [(RPC_URL, CONTRACT)]


def test_the_command_escapes_what_the_receipt_says(files, factory, capsys, sealed) -> None:
    _, receipt_path, _ = files
    receipt = copy.deepcopy(sealed.receipt)
    receipt["subject"] = "x\x1b[1A\x1b[2KPASS anchor\u202e"
    receipt["canonicalization"] = "RFC8785\x1b[1A\x1b[2K"
    receipt_path.write_text(json.dumps(receipt))
    assert main(command(files)) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "canonicalization is 'RFC8785\\x1b[1A\\x1b[2K'" in out
    receipt["canonicalization"] = "RFC8785"
    receipt_path.write_text(json.dumps(receipt))
    assert main(command(files)) == 1
    out = capsys.readouterr().out
    assert "FAIL receipt: receipt unreadable: subject holds a non-printable character" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_the_command_reports_a_changed_object(files, factory, capsys) -> None:
    obj_path = files[0]
    obj_path.write_text(json.dumps({**INDICATOR, "name": "Phishing domaiN"}))
    code = main(command(files))
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL canonical_hash: canonical hash mismatch" in out
    assert out.splitlines()[-1] == "NOT VERIFIED"


def test_the_command_fails_without_an_rpc_url(files, factory, capsys) -> None:
    obj_path, receipt_path, trust_path = files
    assert main([str(obj_path), str(receipt_path), "--trust-root", str(trust_path)]) == 1
    assert "FAIL anchor: not checked: no chain node was given" in capsys.readouterr().out
    assert factory == []


def test_the_command_prints_json(files, factory, capsys) -> None:
    code = main(command(files, "--json"))
    checks = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [check["name"] for check in checks] == list(CHECK_NAMES)
    assert all(check["ok"] is True and check["detail"] for check in checks)


def test_the_command_rejects_a_wrong_key_id(files, factory, capsys) -> None:
    other = key_id(generate_keypair()[1])
    assert main(command(files, "--key-id", other)) == 1
    assert "FAIL signature: signed by key" in capsys.readouterr().out


def test_the_command_rejects_a_bad_trust_root(files, factory, capsys) -> None:
    files[2].write_text(json.dumps({"type": "cti-portal-trust-root", "version": 1}))
    assert main(command(files)) == 2
    assert "is not a usable trust root: chain_id must be a positive integer" in (
        capsys.readouterr().err
    )


def test_the_command_rejects_a_bad_depth(files, factory, capsys) -> None:
    assert main(command(files, "--confirmations", "soon")) == 2
    assert "--confirmations must be a positive integer" in capsys.readouterr().err


def test_the_batch_mode_verifies_many(files, factory, capsys, tmp_path, sealed) -> None:
    batch = tmp_path / "items.jsonl"
    changed = {**sealed.obj, "name": "changed"}
    lines = [{"object": sealed.obj, "receipt": sealed.receipt}] * 20
    lines.append({"object": changed, "receipt": sealed.receipt})
    batch.write_text("\n".join(json.dumps(line) for line in lines))
    trust_path = files[2]
    code = main(["--batch", str(batch), "--trust-root", str(trust_path), "--rpc-url", RPC_URL])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("FAIL item 21: canonical_hash: canonical hash mismatch")
    assert out[-1].startswith("20 of 21 verified, 1 not (")


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
    obj_path, receipt_path, _ = files
    for path, text in ((obj_path, object_text), (receipt_path, receipt_text)):
        if isinstance(text, bytes):
            path.write_bytes(text)
        elif text is not None:
            path.write_text(text)
    assert main(command(files)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_the_command_rejects_a_missing_file(files, capsys, tmp_path: Path) -> None:
    _, receipt_path, _ = files
    assert main([str(tmp_path / "absent.json"), str(receipt_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_command_rejects_bad_usage(capsys) -> None:
    assert main(["only-one-file.json"]) == 2
    assert "give OBJECT.json and RECEIPT.json" in capsys.readouterr().err


def test_an_unreadable_receipt_is_a_failed_check_not_a_usage_error(files, factory, capsys) -> None:
    files[1].write_text(json.dumps({"type": "cti-portal-receipt", "version": 9}))
    assert main(command(files)) == 1
    assert "FAIL receipt: receipt unreadable: unsupported receipt version 9" in (
        capsys.readouterr().out
    )


def test_it_runs_as_a_module(files) -> None:
    obj_path, receipt_path, trust_path = files
    result = subprocess.run(
        [sys.executable, "-m", "ledger.verify", str(obj_path), str(receipt_path), "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == verify.EXIT_UNPINNED, result.stderr
    checks = json.loads(result.stdout)
    assert [check["name"] for check in checks if not check["ok"]] == ["trust", "anchor"]
