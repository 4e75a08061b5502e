"""A corpus of forged receipts, checked on a real anvil chain: the library and the command
must refuse every one with a clear reason, and random mutations of genuine receipts too."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle, verify
from ledger.canonical import canonicalize, item_leaf, new_salt, sha256
from ledger.chain import AnchorChain
from ledger.receipts import build_receipt, build_receipt_v2
from ledger.signing import generate_keypair, key_id, sign, sign_statement
from ledger.trust_root import build_trust_root, parse_trust_root
from tests.anvil import ANVIL_DEV_ADDRESS, ANVIL_DEV_KEY, ANVIL_SECOND_KEY
from tests.ledger.test_receipts import INDICATOR

ORGANISATION = "identity--0f7d1c1e-3c1b-4f55-9f0e-5a7c8e3d2b10"


@dataclass
class Log:
    """Items sealed, logged and anchored the way the portal does it, on a real chain."""

    chain: AnchorChain
    private_key: bytes
    public_key: bytes
    objects: list[dict[str, Any]] = field(default_factory=list)
    sealed: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)  # hash, salt, leaf
    store: merkle.InMemoryStore = field(default_factory=merkle.InMemoryStore)
    anchors: dict[int, tuple[str, int]] = field(default_factory=dict)  # size -> tx, block

    def add(self, count: int) -> None:
        start = len(self.objects)
        for index in range(start, start + count):
            obj = {**INDICATOR, "id": f"indicator--{uuid.uuid4()}", "name": f"item {index}"}
            canonical, salt = canonicalize(obj), new_salt()
            self.objects.append(obj)
            self.sealed.append((sha256(canonical), salt, item_leaf(salt, canonical)))
        leaves = [leaf for _, _, leaf in self.sealed[start:]]
        self.store.put_nodes(merkle.append_nodes(start, leaves, self.store))

    def anchor(self, key: str = ANVIL_DEV_KEY) -> None:
        size = len(self.objects)
        latest = self.chain.latest_size()
        proof = merkle.consistency_proof(latest, size, self.store)
        signed = self.chain.sign_anchor(key, size, merkle.root(size, self.store), proof)
        mined = self.chain.wait_mined(self.chain.send_raw(signed.raw))
        self.anchors[size] = (mined.transaction_hash, mined.block_number)

    def receipt(self, index: int, tree_size: int, *, version: int = 1) -> dict[str, Any]:
        canonical_hash, salt, leaf = self.sealed[index]
        transaction, block = self.anchors[tree_size]
        subject = f"{self.objects[index]['id']}@{self.objects[index]['modified']}"
        if version == 2:
            signature = sign_statement(
                self.private_key,
                organisation=ORGANISATION,
                key_id=key_id(self.public_key),
                leaf=leaf,
                subject=subject,
            )
            build, fields = build_receipt_v2, {"organisation": ORGANISATION}
        else:
            signature = sign(self.private_key, leaf)
            build, fields = build_receipt, {"canonical_hash": canonical_hash}
        return build(
            subject=subject,
            **fields,
            salt=salt,
            leaf=leaf,
            signature=signature,
            public_key=self.public_key,
            leaf_index=index,
            tree_size=tree_size,
            root=merkle.root(tree_size, self.store),
            inclusion_proof=merkle.inclusion_proof(index, tree_size, self.store),
            chain_id=self.chain.chain_id(),
            contract=self.chain.contract_address,
            transaction_hash=transaction,
            block_number=block,
        )


def new_log(anvil_url: str, deployer: str) -> Log:
    address = AnchorChain(anvil_url).deploy(deployer).address
    private_key, public_key = generate_keypair()
    return Log(AnchorChain(anvil_url, address), private_key, public_key)


@dataclass
class World:
    genuine: Log
    attacker: Log
    anvil_url: str

    def trust(self, **key_overrides: Any) -> dict[str, Any]:
        key = {
            "public_key": self.genuine.public_key,
            "organisation": ORGANISATION,
            "custody": "organisation-held",
            "valid_from": datetime(2020, 1, 1, tzinfo=UTC),
            **key_overrides,
        }
        return build_trust_root(
            chain_id=31337,
            contract=self.genuine.chain.contract_address,
            anchor_senders=[ANVIL_DEV_ADDRESS],
            confirmations=1,
            keys=[key],
        )


@pytest.fixture(scope="module")
def world(anvil) -> World:
    genuine = new_log(anvil.url, ANVIL_DEV_KEY)
    genuine.add(5)
    genuine.anchor()
    genuine.add(3)
    genuine.anchor()
    attacker = new_log(anvil.url, ANVIL_SECOND_KEY)
    attacker.add(8)
    attacker.anchor(ANVIL_SECOND_KEY)
    return World(genuine=genuine, attacker=attacker, anvil_url=anvil.url)


@dataclass(frozen=True)
class Forgery:
    name: str
    obj: dict[str, Any]
    receipt: dict[str, Any]
    trust: dict[str, Any] | None
    reason: str


def forgeries(world: World) -> list[Forgery]:
    genuine, attacker = world.genuine, world.attacker
    trust = world.trust()
    own = attacker.receipt(6, 8)  # self-consistent: own key, own contract, own log

    backdated = genuine.receipt(6, 8)
    early_tx, early_block = genuine.anchors[5]
    backdated["anchor"].update(transaction_hash=early_tx, block_number=early_block)

    # The attacker's contract anchors the genuine root; the receipt names that contract.
    elsewhere = genuine.receipt(6, 8)
    elsewhere["anchor"]["contract"] = attacker.chain.contract_address
    elsewhere["anchor"].update(
        transaction_hash=attacker.anchors[8][0], block_number=attacker.anchors[8][1]
    )
    # ... or keeps the genuine contract and cites the other contract's transaction.
    foreign_tx = genuine.receipt(6, 8)
    foreign_tx["anchor"].update(
        transaction_hash=attacker.anchors[8][0], block_number=attacker.anchors[8][1]
    )

    escapes = genuine.receipt(2, 5)
    escapes["subject"] = "x\x1b[1A\x1b[2KVERIFIED\x1b]8;;\x07"

    stripped = genuine.receipt(6, 8, version=2)
    stripped["critical"].remove("anchor")
    unknown_critical = genuine.receipt(6, 8, version=2)
    unknown_critical["critical"].append("witness_cosignatures")
    other_organisation = genuine.receipt(6, 8, version=2)
    other_organisation["signature"]["organisation"] = (
        "identity--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    )

    # The informational custody claims the organisation's own key was the portal's (or the
    # other way round): the trust root pins the real custody.
    wrong_custody = genuine.receipt(6, 8, version=2)
    wrong_custody["signature"]["custody"] = "portal-held"

    obj6, obj2 = genuine.objects[6], genuine.objects[2]
    return [
        Forgery(
            "custody contradicting the trust root",
            obj6,
            wrong_custody,
            trust,
            "but the trust root pins it as organisation-held",
        ),
        Forgery("stripped critical field", obj6, stripped, trust, "critical leaves out 'anchor'"),
        Forgery("unknown critical field", obj6, unknown_critical, trust, "does not understand"),
        Forgery(
            "another organisation's name on a key", obj6, other_organisation, trust, "is a key of"
        ),
        Forgery("own key and contract, no trust root", attacker.objects[6], own, None, "UNPINNED"),
        Forgery(
            "own key and contract, genuine trust root",
            attacker.objects[6],
            own,
            trust,
            "the trust root",
        ),
        Forgery("backdated transaction", obj6, backdated, trust, "cites another anchor"),
        Forgery("root from another contract", obj6, elsewhere, trust, "the trust root"),
        Forgery(
            "transaction of another contract", obj6, foreign_tx, trust, "is not a successful call"
        ),
        Forgery(
            "key outside its validity window",
            obj6,
            genuine.receipt(6, 8),
            world.trust(valid_until=datetime(2020, 6, 1, tzinfo=UTC)),
            "expired at 2020-06-01",
        ),
        Forgery(
            "revoked key",
            obj6,
            genuine.receipt(6, 8),
            world.trust(revoked_at=datetime(2021, 1, 1, tzinfo=UTC)),
            "was revoked at 2021-01-01",
        ),
        Forgery("terminal escapes in subject", obj2, escapes, trust, "non-printable character"),
    ]


FORGERY_NAMES = [
    "custody contradicting the trust root",
    "stripped critical field",
    "unknown critical field",
    "another organisation's name on a key",
    "own key and contract, no trust root",
    "own key and contract, genuine trust root",
    "backdated transaction",
    "root from another contract",
    "transaction of another contract",
    "key outside its validity window",
    "revoked key",
    "terminal escapes in subject",
]


def forgery(world: World, name: str) -> Forgery:
    return next(f for f in forgeries(world) if f.name == name)


def failures(checks: list[verify.Check]) -> str:
    return "; ".join(f"{check.name}: {check.detail}" for check in checks if not check.ok)


def test_the_genuine_receipts_verify(world: World) -> None:
    trust = parse_trust_root(world.trust())
    chain = AnchorChain(world.anvil_url, trust.contract)
    for index, size, version in [(0, 5, 1), (4, 5, 2), (5, 8, 1), (7, 8, 2), (2, 8, 2)]:
        receipt = world.genuine.receipt(index, size, version=version)
        checks = verify.verify_item(
            world.genuine.objects[index], receipt, chain=chain, trust_root=trust
        )
        assert failures(checks) == ""


@pytest.mark.parametrize("name", FORGERY_NAMES)
def test_the_library_refuses_a_forgery(world: World, name: str) -> None:
    forged = forgery(world, name)
    trust = parse_trust_root(forged.trust) if forged.trust else None
    contract = trust.contract if trust else forged.receipt["anchor"]["contract"]
    checks = verify.verify_item(
        forged.obj,
        forged.receipt,
        chain=AnchorChain(world.anvil_url, contract),
        trust_root=trust,
    )
    reasons = failures(checks)
    assert reasons, f"{name} was accepted"
    assert forged.reason in reasons


@pytest.mark.parametrize("name", FORGERY_NAMES)
def test_the_command_refuses_a_forgery(world: World, name: str, tmp_path: Path, capsys) -> None:
    forged = forgery(world, name)
    obj_path, receipt_path = tmp_path / "object.json", tmp_path / "receipt.json"
    obj_path.write_text(json.dumps(forged.obj))
    receipt_path.write_text(json.dumps(forged.receipt))
    args = [str(obj_path), str(receipt_path), "--rpc-url", world.anvil_url]
    if forged.trust:
        (tmp_path / "trust.json").write_text(json.dumps(forged.trust))
        args += ["--trust-root", str(tmp_path / "trust.json")]

    code = verify.main(args)

    out = capsys.readouterr().out
    assert code in (verify.EXIT_NOT_VERIFIED, verify.EXIT_UNPINNED)
    assert forged.reason in out
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[-1] in ("NOT VERIFIED", "UNPINNED")


# --- Random mutations ------------------------------------------------------------------

# Version 1 receipts do not authenticate the subject (it is shown as a label only); version 2
# receipts sign it, so there every field counts.
UNAUTHENTICATED = {1: {("subject",)}, 2: set()}


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(doc, dict):
        return [p for key, value in doc.items() for p in paths(value, (*prefix, key))]
    if isinstance(doc, list):
        found = [p for index, value in enumerate(doc) for p in paths(value, (*prefix, index))]
        return found or [prefix]
    return [prefix]


def mutate(doc: dict[str, Any], path: tuple, data: st.DataObject) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    value = parent[key]
    kind = data.draw(st.sampled_from(["delete", "change"]))
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
    elif isinstance(value, bool) or value is None:
        parent[key] = "x"
    elif isinstance(value, int):
        parent[key] = value + data.draw(st.integers(-3, 3).filter(bool))
    elif isinstance(value, str) and value:
        position = data.draw(st.integers(0, len(value) - 1))
        current = value[position].lower()
        replacement = data.draw(st.sampled_from([c for c in "0123456789abcdefxz" if c != current]))
        parent[key] = value[:position] + replacement + value[position + 1 :]
    elif isinstance(value, list):
        parent[key] = [*value, "00" * 32] if value else ["00" * 32]
    else:
        parent[key] = 0
    return doc


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_random_mutation_of_a_genuine_receipt_is_refused(world: World, data) -> None:
    index = data.draw(st.sampled_from([1, 4, 6]))
    version = data.draw(st.sampled_from([1, 2]))
    receipt = world.genuine.receipt(index, 5 if index < 5 else 8, version=version)
    candidates = [p for p in paths(receipt) if p not in UNAUTHENTICATED[version]]
    path = data.draw(st.sampled_from(candidates))
    mutated = mutate(receipt, path, data)
    trust = parse_trust_root(world.trust())
    checks = verify.verify_item(
        world.genuine.objects[index],
        mutated,
        chain=AnchorChain(world.anvil_url, trust.contract),
        trust_root=trust,
    )
    assert failures(checks), f"mutating {path} was accepted"
