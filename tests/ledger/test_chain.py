"""AnchorChain against a real anvil node (one per module, a fresh contract per test)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ledger.chain import (
    AnchorChain,
    AnchorRejected,
    ChainError,
    Deployment,
    MinedTx,
)
from tests.anvil import (
    ANVIL_CHAIN_ID,
    ANVIL_DEV_ADDRESS,
    ANVIL_DEV_KEY,
    ANVIL_SECOND_KEY,
    free_port,
    rpc,
    start_anvil,
)

ROOT_1 = bytes.fromhex("11" * 32)
ROOT_3 = bytes.fromhex("33" * 32)


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    anvil = start_anvil()
    try:
        yield anvil.url
    finally:
        anvil.stop()


@pytest.fixture
def deployment(anvil_url: str) -> Deployment:
    return AnchorChain(anvil_url).deploy(ANVIL_DEV_KEY)


@pytest.fixture
def chain(anvil_url: str, deployment: Deployment) -> AnchorChain:
    return AnchorChain(anvil_url, deployment.address)


def anchor(chain: AnchorChain, tree_size: int, root: bytes, key: str = ANVIL_DEV_KEY) -> MinedTx:
    signed = chain.sign_anchor(key, tree_size, root)
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


def test_it_rejects_anyone_but_the_owner(chain: AnchorChain) -> None:
    with pytest.raises(AnchorRejected, match="not owner"):
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
