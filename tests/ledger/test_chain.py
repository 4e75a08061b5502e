"""AnchorChain against a real anvil node (one per module, a fresh contract per test)."""

from __future__ import annotations

import socket

import pytest

from ledger import merkle
from ledger.chain import (
    AnchorChain,
    AnchorRejected,
    ChainError,
    Deployment,
    MinedTx,
)
from ledger.merkle import InMemoryStore
from tests.anvil import (
    ANVIL_CHAIN_ID,
    ANVIL_DEV_ADDRESS,
    ANVIL_DEV_KEY,
    ANVIL_SECOND_ADDRESS,
    ANVIL_SECOND_KEY,
    free_port,
    rpc,
)


class Log:
    """An in-memory log of ``size`` leaves whose roots and consistency proofs tests anchor."""

    def __init__(self, size: int, *, skip: int | None = None) -> None:
        leaves = [bytes([index]) * 32 for index in range(size + 1) if index != skip][:size]
        self.store = InMemoryStore()
        self.store.put_nodes(merkle.append_nodes(0, leaves, self.store))

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.store)

    def proof(self, old_size: int, new_size: int) -> list[bytes]:
        return merkle.consistency_proof(old_size, new_size, self.store)


LOG = Log(64)
ROOT_1 = LOG.root(1)
ROOT_3 = LOG.root(3)


@pytest.fixture
def anvil_url(anvil) -> str:
    return anvil.url


@pytest.fixture
def deployment(anvil_url: str) -> Deployment:
    return AnchorChain(anvil_url).deploy(ANVIL_DEV_KEY)


@pytest.fixture
def chain(anvil_url: str, deployment: Deployment) -> AnchorChain:
    return AnchorChain(anvil_url, deployment.address)


def anchor(
    chain: AnchorChain,
    tree_size: int,
    root: bytes | None = None,
    key: str = ANVIL_DEV_KEY,
    *,
    log: Log = LOG,
) -> MinedTx:
    """Anchor ``log`` at ``tree_size`` with the consistency proof from the latest checkpoint."""
    latest = chain.latest_size()
    root = log.root(tree_size) if root is None else root
    signed = chain.sign_anchor(key, tree_size, root, log.proof(latest, tree_size))
    return chain.wait_mined(chain.send_raw(signed.raw))


def test_it_deploys_the_registry(anvil_url: str, deployment: Deployment) -> None:
    chain = AnchorChain(anvil_url)
    assert chain.chain_id() == ANVIL_CHAIN_ID
    assert chain.has_code(deployment.address)
    assert not chain.has_code(ANVIL_DEV_ADDRESS)
    assert deployment.transaction_hash.startswith("0x")
    assert 0 < deployment.block_number <= chain.block_number()


def test_it_anchors_growing_sizes(chain: AnchorChain) -> None:
    assert chain.latest_size() == 0

    first = anchor(chain, 1, ROOT_1)
    second = anchor(chain, 3, ROOT_3)

    assert first.succeeded and second.succeeded
    assert second.block_number > first.block_number
    assert chain.anchored_root(1) == ROOT_1
    assert chain.anchored_root(3) == ROOT_3
    assert chain.latest_size() == 3


def test_it_signs_without_sending(chain: AnchorChain) -> None:
    signed = chain.sign_anchor(ANVIL_DEV_KEY, 1, ROOT_1)

    assert signed.sender == ANVIL_DEV_ADDRESS
    assert signed.transaction_hash.startswith("0x")
    assert chain.mined(signed.transaction_hash) is None
    assert chain.latest_size() == 0
    assert chain.send_raw(signed.raw) == signed.transaction_hash


@pytest.mark.parametrize("tree_size", [3, 2])
def test_it_rejects_a_size_that_does_not_grow(chain: AnchorChain, tree_size: int) -> None:
    anchor(chain, 3, ROOT_3)

    with pytest.raises(AnchorRejected, match="size must grow"):
        chain.sign_anchor(ANVIL_DEV_KEY, tree_size, ROOT_1)
    assert chain.anchored_root(3) == ROOT_3


def test_it_rejects_an_empty_root(chain: AnchorChain) -> None:
    with pytest.raises(AnchorRejected, match="empty root"):
        chain.sign_anchor(ANVIL_DEV_KEY, 1, bytes(32))


def test_it_rejects_anyone_but_the_sender(chain: AnchorChain) -> None:
    with pytest.raises(AnchorRejected, match="not sender"):
        chain.sign_anchor(ANVIL_SECOND_KEY, 1, ROOT_1)
    assert chain.latest_size() == 0


def test_it_finds_the_block_of_an_anchor(chain: AnchorChain, deployment: Deployment) -> None:
    mined = anchor(chain, 1, ROOT_1)

    assert chain.transaction_block(mined.transaction_hash) == mined.block_number
    # The deployment is not a transaction *to* the contract.
    assert chain.transaction_block(deployment.transaction_hash) is None
    assert chain.transaction_block("0x" + "ab" * 32) is None


def test_it_ignores_anchors_of_another_registry(anvil_url: str, chain: AnchorChain) -> None:
    mined = anchor(chain, 1, ROOT_1)
    other = AnchorChain(anvil_url, AnchorChain(anvil_url).deploy(ANVIL_DEV_KEY).address)

    assert other.transaction_block(mined.transaction_hash) is None


def test_an_unanchored_size_has_no_root(chain: AnchorChain) -> None:
    anchor(chain, 3, ROOT_3)

    assert chain.anchored_root(2) is None
    assert chain.anchored_root(4) is None


def test_it_counts_confirmations(anvil_url: str, chain: AnchorChain) -> None:
    mined = anchor(chain, 1, ROOT_1)
    assert mined.confirmations == 1

    rpc(anvil_url, "anvil_mine", "0x2")

    assert chain.mined(mined.transaction_hash).confirmations == 3


def test_sending_the_same_transaction_twice_is_harmless(chain: AnchorChain) -> None:
    signed = chain.sign_anchor(ANVIL_DEV_KEY, 1, ROOT_1)

    first = chain.send_raw(signed.raw)
    chain.wait_mined(first)
    # Already mined: the node answers "nonce too low".
    assert chain.send_raw(signed.raw) == signed.transaction_hash
    assert chain.latest_size() == 1


def test_resending_a_pending_transaction_is_harmless(anvil_url: str, chain: AnchorChain) -> None:
    signed = chain.sign_anchor(ANVIL_DEV_KEY, 1, ROOT_1)
    rpc(anvil_url, "evm_setAutomine", False)
    try:
        assert chain.send_raw(signed.raw) == signed.transaction_hash
        # Still in the pool: the node answers "already known" (anvil: "already imported").
        assert chain.send_raw(signed.raw) == signed.transaction_hash
        assert chain.mined(signed.transaction_hash) is None
    finally:
        rpc(anvil_url, "evm_setAutomine", True)
    rpc(anvil_url, "evm_mine")

    assert chain.wait_mined(signed.transaction_hash).succeeded


def test_a_different_transaction_with_a_used_nonce_fails(chain: AnchorChain) -> None:
    first = chain.sign_anchor(ANVIL_DEV_KEY, 1, ROOT_1)
    rival = chain.sign_anchor(ANVIL_DEV_KEY, 3, ROOT_3)
    assert first.nonce == rival.nonce

    chain.wait_mined(chain.send_raw(first.raw))

    with pytest.raises(ChainError, match="nonce too low") as excinfo:
        chain.send_raw(rival.raw)
    assert not isinstance(excinfo.value, AnchorRejected)


def test_an_unknown_transaction_is_not_mined(chain: AnchorChain) -> None:
    unknown = "0x" + "cd" * 32

    assert chain.mined(unknown) is None
    with pytest.raises(ChainError, match="not mined within"):
        chain.wait_mined(unknown, timeout=0.2)


def test_it_needs_a_contract_address(anvil_url: str) -> None:
    chain = AnchorChain(anvil_url)

    for call in (
        chain.latest_size,
        lambda: chain.anchored_root(1),
        lambda: chain.sign_anchor(ANVIL_DEV_KEY, 1, ROOT_1),
        lambda: chain.transaction_block("0x" + "ab" * 32),
    ):
        with pytest.raises(ChainError, match="no contract address configured"):
            call()


def test_it_refuses_a_bad_key_without_echoing_it(chain: AnchorChain) -> None:
    with pytest.raises(ChainError, match="invalid sender private key") as excinfo:
        chain.sign_anchor("0xdeadbeef", 1, ROOT_1)
    assert "deadbeef" not in str(excinfo.value)


def test_an_unreachable_node_is_a_chain_error() -> None:
    port = free_port()  # bound then released: nothing listens there
    url = f"http://127.0.0.1:{port}"
    chain = AnchorChain(url, ANVIL_DEV_ADDRESS, timeout=2)

    with pytest.raises(ChainError) as excinfo:
        chain.block_number()
    assert str(excinfo.value) == f"cannot reach ledger node at {url}: connection refused"
    with pytest.raises(ChainError, match="cannot reach ledger node"):
        chain.latest_size()
    with pytest.raises(ChainError, match="cannot reach ledger node"):
        chain.send_raw(b"\x02\x00")


def test_a_silent_node_times_out() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts connections into the backlog, never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}"

        with pytest.raises(ChainError, match="did not answer within 0.3s"):
            AnchorChain(url, timeout=0.3).chain_id()


# --- A log that cannot fork ------------------------------------------------------------


def test_it_refuses_a_checkpoint_that_does_not_extend_the_latest(chain: AnchorChain) -> None:
    anchor(chain, 5)
    # A size-7 tree that drops leaf 4 of the anchored size-5 tree, with its own valid-looking
    # proof: the contract checks the proof against the root it holds for size 5.
    fork = Log(64, skip=4)
    with pytest.raises(AnchorRejected, match="not consistent with the latest checkpoint"):
        chain.sign_anchor(ANVIL_DEV_KEY, 7, fork.root(7), fork.proof(5, 7))
    with pytest.raises(AnchorRejected, match="not consistent"):
        chain.sign_anchor(ANVIL_DEV_KEY, 7, fork.root(7), LOG.proof(5, 7))
    with pytest.raises(AnchorRejected, match="not consistent"):
        chain.sign_anchor(ANVIL_DEV_KEY, 7, LOG.root(7), [])
    assert chain.latest_checkpoint() == (5, LOG.root(5))

    anchor(chain, 7)
    assert chain.latest_checkpoint() == (7, LOG.root(7))


def test_the_first_checkpoint_takes_no_proof(chain: AnchorChain) -> None:
    with pytest.raises(AnchorRejected, match="first checkpoint takes no proof"):
        chain.sign_anchor(ANVIL_DEV_KEY, 3, ROOT_3, [ROOT_1])


def test_it_verifies_consistency_like_the_rfc(chain: AnchorChain) -> None:
    for new_size in range(2, 18):
        for old_size in range(1, new_size):
            proof = LOG.proof(old_size, new_size)
            old_root, new_root = LOG.root(old_size), LOG.root(new_size)
            assert chain.consistency_holds(old_size, new_size, old_root, new_root, proof)
            assert not chain.consistency_holds(old_size, new_size, new_root, old_root, proof)
            if proof:
                assert not chain.consistency_holds(
                    old_size, new_size, old_root, new_root, proof[:-1]
                )


def test_it_refuses_implausible_growth(anvil_url: str) -> None:
    deployment = AnchorChain(anvil_url).deploy(ANVIL_DEV_KEY, max_growth=4)
    chain = AnchorChain(anvil_url, deployment.address)
    assert chain.max_growth() == 4
    with pytest.raises(AnchorRejected, match="growth above limit"):
        chain.sign_anchor(ANVIL_DEV_KEY, 2**64 - 1, ROOT_1)
    anchor(chain, 4)
    with pytest.raises(AnchorRejected, match="growth above limit"):
        chain.sign_anchor(ANVIL_DEV_KEY, 9, LOG.root(9), LOG.proof(4, 9))
    anchor(chain, 8)
    assert chain.latest_size() == 8


def test_the_owner_hands_anchoring_over_to_a_new_sender(chain: AnchorChain) -> None:
    anchor(chain, 1)
    with pytest.raises(AnchorRejected, match="not owner"):
        chain.sign_call(ANVIL_SECOND_KEY, "setSender", ANVIL_SECOND_ADDRESS)
    handover = chain.sign_call(ANVIL_DEV_KEY, "setSender", ANVIL_SECOND_ADDRESS)
    assert chain.wait_mined(chain.send_raw(handover.raw)).succeeded
    assert chain.sender() == ANVIL_SECOND_ADDRESS

    with pytest.raises(AnchorRejected, match="not sender"):
        chain.sign_anchor(ANVIL_DEV_KEY, 3, ROOT_3, LOG.proof(1, 3))
    assert anchor(chain, 3, key=ANVIL_SECOND_KEY).succeeded


def test_it_reads_the_facts_of_an_anchor(anvil_url: str, chain: AnchorChain) -> None:
    first = anchor(chain, 3)
    second = anchor(chain, 5)
    rpc(anvil_url, "anvil_mine", "0x2")

    facts = chain.anchor_facts(second.transaction_hash, 5)
    assert facts.checkpoints == ((5, LOG.root(5)),)
    assert (facts.block_number, facts.sender) == (second.block_number, ANVIL_DEV_ADDRESS)
    assert facts.root_at_size == LOG.root(5)
    assert facts.anchored_at > 0
    assert facts.confirmations() == 3
    # The earlier transaction recorded another checkpoint: a receipt citing it is backdated.
    assert chain.anchor_facts(first.transaction_hash, 5).checkpoints == ((3, LOG.root(3)),)
    assert chain.anchor_facts("0x" + "ab" * 32, 5).block_number is None

    events = chain.checkpoint_events(0, chain.block_number())
    assert [(event.tree_size, event.root) for event in events] == [
        (3, LOG.root(3)),
        (5, LOG.root(5)),
    ]
    assert events[1].transaction_hash == second.transaction_hash
