import hashlib
from collections.abc import Collection, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    InMemoryStore,
    MissingNodeError,
    NodeKey,
    ProofError,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

# The reference tree of the Certificate Transparency test suite (RFC 6962 hashing,
# unchanged in RFC 9162): eight leaf inputs, and the root after each append.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# The CT suite numbers leaves from 1; these use 0-based leaf indexes.
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 1): [],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}

N = 64
# Distinct leaves: with repeated leaves, swapped siblings can hash alike and a
# "wrong" index may legitimately verify.
LEAVES = [b"leaf %d" % i for i in range(N)]


def _build(leaf_datas: Sequence[bytes], batch: int = 1) -> InMemoryStore:
    store = InMemoryStore()
    for start in range(0, len(leaf_datas), batch):
        store.put_nodes(append_nodes(start, leaf_datas[start : start + batch], store))
    return store


# One log of N leaves serves every smaller size: perfect subtrees never change.
STORE = _build(LEAVES, batch=5)
ROOTS = [root_from_leaves(LEAVES[:size]) for size in range(N + 1)]


class CountingStore:
    def __init__(self, base: InMemoryStore) -> None:
        self.base = base
        self.calls: list[list[NodeKey]] = []

    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls.append(list(keys))
        return self.base.get_nodes(keys)


def _reference_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    # RFC 9162 2.1.3.1, literally.
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return _reference_path(index, leaves[:k]) + [root_from_leaves(leaves[k:])]
    return _reference_path(index - k, leaves[k:]) + [root_from_leaves(leaves[:k])]


def _reference_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    # RFC 9162 2.1.4.1, literally.
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaves(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _reference_subproof(m, leaves[:k], complete) + [root_from_leaves(leaves[k:])]
    return _reference_subproof(m - k, leaves[k:], False) + [root_from_leaves(leaves[:k])]


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- Known vectors ---------------------------------------------------------------------


def test_the_empty_root_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root(0, InMemoryStore()) == EMPTY_ROOT
    assert root_from_leaves([]) == EMPTY_ROOT


def test_leaves_and_nodes_are_domain_separated() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()


def test_it_reproduces_the_certificate_transparency_roots() -> None:
    store = _build(CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert root(size, store).hex() == expected
        assert root_from_leaves(CT_LEAVES[:size]).hex() == expected


@pytest.mark.parametrize(("index", "size"), CT_INCLUSION)
def test_it_reproduces_the_certificate_transparency_inclusion_proofs(index: int, size: int) -> None:
    store = _build(CT_LEAVES)
    proof = inclusion_proof(index, size, store)
    assert [node.hex() for node in proof] == CT_INCLUSION[(index, size)]
    root_hash = bytes.fromhex(CT_ROOTS[size - 1])
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, root_hash)


@pytest.mark.parametrize(("old_size", "new_size"), CT_CONSISTENCY)
def test_it_reproduces_the_certificate_transparency_consistency_proofs(
    old_size: int, new_size: int
) -> None:
    store = _build(CT_LEAVES)
    proof = consistency_proof(old_size, new_size, store)
    assert [node.hex() for node in proof] == CT_CONSISTENCY[(old_size, new_size)]
    old_root = bytes.fromhex(CT_ROOTS[old_size - 1])
    new_root = bytes.fromhex(CT_ROOTS[new_size - 1])
    verify_consistency(old_size, new_size, old_root, new_root, proof)


# --- Every size, every leaf, every pair ------------------------------------------------


def test_every_root_matches_the_reference() -> None:
    for size in range(N + 1):
        assert root(size, STORE) == ROOTS[size]


def test_every_leaf_proves_inclusion_at_every_size() -> None:
    for size in range(1, N + 1):
        for index in range(size):
            proof = inclusion_proof(index, size, STORE)
            assert proof == _reference_path(index, LEAVES[:size])
            verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, ROOTS[size])


def test_every_pair_of_sizes_proves_consistency() -> None:
    for new_size in range(1, N + 1):
        for old_size in range(1, new_size + 1):
            proof = consistency_proof(old_size, new_size, STORE)
            assert proof == _reference_subproof(old_size, LEAVES[:new_size], True)
            verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)


def test_the_empty_tree_is_consistent_with_every_tree() -> None:
    assert consistency_proof(0, 5, STORE) == []
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    with pytest.raises(ProofError):
        verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])


def test_equal_sizes_need_equal_roots_and_no_proof() -> None:
    verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    with pytest.raises(ProofError, match="should be"):
        verify_consistency(7, 7, ROOTS[6], ROOTS[7], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])


@settings(deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=80), st.data())
def test_any_leaves_in_any_batches_give_the_reference_root(
    leaf_datas: list[bytes], data: st.DataObject
) -> None:
    store = InMemoryStore()
    size = 0
    while size < len(leaf_datas):
        batch = data.draw(st.integers(1, len(leaf_datas) - size))
        store.put_nodes(append_nodes(size, leaf_datas[size : size + batch], store))
        size += batch
    assert root(size, store) == root_from_leaves(leaf_datas)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=N))
def test_appending_in_different_batches_gives_identical_stores(batches: list[int]) -> None:
    store = InMemoryStore()
    size = 0
    for batch in batches:
        chunk = LEAVES[size : size + batch]
        if not chunk:
            break
        store.put_nodes(append_nodes(size, chunk, store))
        size += len(chunk)
    assert store.nodes == _build(LEAVES[:size], batch=1).nodes


def test_the_store_holds_exactly_the_perfect_subtrees() -> None:
    expected = {
        (level, index)
        for level in range(N.bit_length())
        for index in range(N >> level)
        if (index + 1) << level <= N
    }
    assert set(STORE.nodes) == expected
    assert STORE.nodes[(6, 0)] == ROOTS[64]
    assert STORE.nodes[(2, 3)] == root_from_leaves(LEAVES[12:16])


# --- Tampering -------------------------------------------------------------------------


@st.composite
def _inclusion_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    size = draw(st.integers(1, N))
    index = draw(st.integers(0, size - 1))
    return index, size, inclusion_proof(index, size, STORE)


@st.composite
def _consistency_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    new_size = draw(st.integers(2, N))
    old_size = draw(st.integers(1, new_size - 1))
    return old_size, new_size, consistency_proof(old_size, new_size, STORE)


@given(_inclusion_case(), st.data())
def test_a_flipped_bit_in_an_inclusion_proof_fails(case, data: st.DataObject) -> None:
    index, size, proof = case
    if not proof:
        return
    position = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    proof[position] = _flip(proof[position], bit)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, ROOTS[size])


@given(_inclusion_case(), st.integers(0, 255))
def test_a_flipped_bit_in_the_root_or_leaf_fails_inclusion(case, bit: int) -> None:
    index, size, proof = case
    leaf = leaf_hash(LEAVES[index])
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, _flip(ROOTS[size], bit))
    with pytest.raises(ProofError):
        verify_inclusion(_flip(leaf, bit), index, size, proof, ROOTS[size])


@given(_inclusion_case(), st.integers(0, N + 4))
def test_a_wrong_index_fails_inclusion(case, wrong_index: int) -> None:
    index, size, proof = case
    if wrong_index == index:
        return
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(LEAVES[index]), wrong_index, size, proof, ROOTS[size])


@given(_inclusion_case(), st.integers(1, N))
def test_a_wrong_size_fails_inclusion(case, wrong_size: int) -> None:
    # The claimed size comes with its own root, as in a signed checkpoint.
    index, size, proof = case
    if wrong_size == size:
        return
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(LEAVES[index]), index, wrong_size, proof, ROOTS[wrong_size])


@given(_inclusion_case(), st.data())
def test_a_truncated_or_extended_inclusion_proof_fails(case, data: st.DataObject) -> None:
    index, size, proof = case
    leaf = leaf_hash(LEAVES[index])
    if proof:
        cut = data.draw(st.integers(0, len(proof) - 1))
        with pytest.raises(ProofError, match="needs exactly"):
            verify_inclusion(leaf, index, size, proof[:cut], ROOTS[size])
    extra = data.draw(st.binary(min_size=32, max_size=32))
    with pytest.raises(ProofError, match="needs exactly"):
        verify_inclusion(leaf, index, size, [*proof, extra], ROOTS[size])


@given(_consistency_case(), st.data())
def test_a_flipped_bit_in_a_consistency_proof_fails(case, data: st.DataObject) -> None:
    old_size, new_size, proof = case
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = _flip(proof[position], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError, match="rebuilds"):
        verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)


@given(_consistency_case(), st.integers(0, 255))
def test_a_flipped_bit_in_either_root_fails_consistency(case, bit: int) -> None:
    old_size, new_size, proof = case
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    # When old_size is a power of two the old root is the first node of the path,
    # so a wrong old root surfaces as a new root that does not rebuild.
    with pytest.raises(ProofError, match="rebuilds"):
        verify_consistency(old_size, new_size, _flip(old_root, bit), new_root, proof)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(old_size, new_size, old_root, _flip(new_root, bit), proof)


@given(_consistency_case(), st.integers(0, N), st.integers(1, N))
def test_wrong_sizes_fail_consistency(case, wrong_old: int, wrong_new: int) -> None:
    old_size, new_size, proof = case
    if wrong_old != old_size:
        with pytest.raises(ProofError):
            verify_consistency(wrong_old, new_size, ROOTS[wrong_old], ROOTS[new_size], proof)
    if wrong_new != new_size:
        with pytest.raises(ProofError):
            verify_consistency(old_size, wrong_new, ROOTS[old_size], ROOTS[wrong_new], proof)


@given(_consistency_case(), st.data())
def test_a_truncated_or_extended_consistency_proof_fails(case, data: st.DataObject) -> None:
    old_size, new_size, proof = case
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    cut = data.draw(st.integers(0, len(proof) - 1))
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, old_root, new_root, proof[:cut])
    extra = data.draw(st.binary(min_size=32, max_size=32))
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, old_root, new_root, [*proof, extra])


def test_a_proof_element_of_the_wrong_length_fails() -> None:
    proof = inclusion_proof(3, 10, STORE)
    proof[1] = proof[1][:31]
    with pytest.raises(ProofError, match="element 1 must be 32 bytes"):
        verify_inclusion(leaf_hash(LEAVES[3]), 3, 10, proof, ROOTS[10])


def test_an_index_outside_the_tree_fails() -> None:
    with pytest.raises(ProofError, match="outside a tree of size 4"):
        verify_inclusion(leaf_hash(LEAVES[4]), 4, 4, [], ROOTS[4])
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(LEAVES[0]), -1, 4, [], ROOTS[4])


def test_a_shrinking_tree_fails_consistency() -> None:
    with pytest.raises(ProofError, match="larger than"):
        verify_consistency(5, 4, ROOTS[5], ROOTS[4], [])


# --- Store access ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 33, 64])
def test_root_reads_the_store_once(size: int) -> None:
    store = CountingStore(STORE)
    root(size, store)
    assert len(store.calls) == 1
    assert len(store.calls[0]) == bin(size).count("1")


@pytest.mark.parametrize(("index", "size"), [(0, 2), (5, 6), (12, 13), (31, 64), (63, 64)])
def test_an_inclusion_proof_reads_the_store_once(index: int, size: int) -> None:
    store = CountingStore(STORE)
    proof = inclusion_proof(index, size, store)
    assert len(store.calls) == 1
    assert len(store.calls[0]) <= 2 * size.bit_length()
    assert proof == _reference_path(index, LEAVES[:size])


@pytest.mark.parametrize(("old_size", "new_size"), [(1, 2), (3, 7), (6, 8), (13, 64), (33, 63)])
def test_a_consistency_proof_reads_the_store_once(old_size: int, new_size: int) -> None:
    store = CountingStore(STORE)
    consistency_proof(old_size, new_size, store)
    assert len(store.calls) == 1
    assert len(store.calls[0]) <= 2 * new_size.bit_length()


def test_nothing_is_read_when_nothing_is_needed() -> None:
    store = CountingStore(STORE)
    assert root(0, store) == EMPTY_ROOT
    assert inclusion_proof(0, 1, store) == []
    assert consistency_proof(5, 5, store) == []
    assert append_nodes(5, [], store) == {}
    assert append_nodes(0, [b"first"], store) == {(0, 0): leaf_hash(b"first")}
    assert store.calls == []


@pytest.mark.parametrize(("size", "count"), [(1, 1), (5, 3), (7, 1), (11, 21), (63, 1), (64, 1)])
def test_appending_reads_only_the_frontier_once(size: int, count: int) -> None:
    base = _build(LEAVES[:size])
    store = CountingStore(base)
    append_nodes(size, [b"new %d" % i for i in range(count)], store)
    assert len(store.calls) <= 1
    frontier = {
        (level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1
    }
    requested = set(store.calls[0]) if store.calls else set()
    assert requested <= frontier


def test_appending_to_a_store_that_lacks_the_log_fails_clearly() -> None:
    with pytest.raises(MissingNodeError, match="missing Merkle nodes"):
        append_nodes(3, [b"x"], InMemoryStore())


def test_a_proof_beyond_the_stored_log_fails_clearly() -> None:
    with pytest.raises(MissingNodeError):
        root(N + 1, STORE)


def test_the_store_refuses_to_rewrite_a_node() -> None:
    store = _build(LEAVES[:2])
    with pytest.raises(ValueError, match="different hash"):
        store.put_nodes({(0, 1): leaf_hash(b"forged")})


@pytest.mark.parametrize(
    "call",
    [
        lambda: inclusion_proof(4, 4, STORE),
        lambda: inclusion_proof(-1, 4, STORE),
        lambda: consistency_proof(5, 4, STORE),
        lambda: consistency_proof(-1, 4, STORE),
        lambda: root(-1, STORE),
        lambda: append_nodes(-1, [b"x"], STORE),
    ],
)
def test_out_of_range_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()


# --- Scale -----------------------------------------------------------------------------


class UniformStore:
    """A virtual log of identical leaves: every node at a level has the same hash."""

    def __init__(self) -> None:
        self.levels = [leaf_hash(b"same")]
        for _ in range(64):
            self.levels.append(node_hash(self.levels[-1], self.levels[-1]))
        self.calls: list[list[NodeKey]] = []

    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls.append(list(keys))
        return {(level, index): self.levels[level] for level, index in keys}


def test_a_trillion_leaf_log_needs_only_logarithmic_reads() -> None:
    size, old_size, index = 10**12 + 12345, 10**12 - 999, 123_456_789
    store = UniformStore()
    root_hash = root(size, store)
    old_root = root(old_size, store)
    proof = inclusion_proof(index, size, store)
    verify_inclusion(leaf_hash(b"same"), index, size, proof, root_hash)
    consistency = consistency_proof(old_size, size, store)
    verify_consistency(old_size, size, old_root, root_hash, consistency)
    fresh = append_nodes(size, [b"same"] * 3, store)
    assert len(fresh) < 3 + 2 * size.bit_length()
    assert len(store.calls) == 5
    assert all(len(keys) <= 2 * size.bit_length() for keys in store.calls)
