"""An append-only Merkle log in the style of RFC 9162 (Certificate Transparency v2).

Hashing follows RFC 9162 section 2.1.1: leaves are SHA-256(0x00 || data), interior
nodes SHA-256(0x01 || left || right), and the tree over n leaves splits at k, the
largest power of two smaller than n.

Storage holds only *perfect* subtrees, keyed by ``(level, index)``: level 0 index i
is the hash of leaf i, and level k index i is the hash of the complete subtree over
leaves [i * 2^k, (i + 1) * 2^k). Such a node never changes once its last leaf is
appended, so the store is append-only too. Every subtree the RFC algorithms visit is
either one of these perfect nodes or lies on the right edge of the tree, and a
right-edge subtree is the fold of at most log2(n) perfect ones. Each operation
therefore plans the keys it needs, asks the store for all of them in one call (one
query for a database-backed store), and hashes O(log n) values: nothing ever
recomputes the whole tree.

No Django here: the independent verifier imports this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

HASH_BYTES = 32

# RFC 9162 2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree over leaves [index * 2^level, (index + 1) * 2^level)."""


class ProofError(ValueError):
    """A Merkle proof did not verify; ``str()`` says which check failed and why."""


class MissingNodeError(KeyError):
    """The store lacks nodes a computation needs: it does not hold the claimed tree size."""

    def __init__(self, keys: Iterable[NodeKey]) -> None:
        self.keys = sorted(keys)
        super().__init__(self.keys)

    def __str__(self) -> str:
        shown = ", ".join(f"(level {level}, index {index})" for level, index in self.keys[:5])
        more = f" and {len(self.keys) - 5} more" if len(self.keys) > 5 else ""
        return f"the node store is missing Merkle nodes {shown}{more}"


class NodeStore(Protocol):
    """Where perfect-subtree hashes live.

    ``get_nodes`` returns the stored hash for each requested key it holds and omits
    keys it does not hold; callers turn omissions into MissingNodeError.
    """

    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]: ...


class InMemoryStore:
    """A NodeStore in a dict, for tests, tools and small logs."""

    def __init__(self, nodes: Mapping[NodeKey, bytes] | None = None) -> None:
        self.nodes: dict[NodeKey, bytes] = dict(nodes or {})

    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        """Store new nodes. A perfect subtree never changes, so rewriting one to a
        different hash raises ValueError rather than silently forking the log."""
        for key, digest in nodes.items():
            existing = self.nodes.get(key)
            if existing is not None and existing != digest:
                raise ValueError(f"node {key} is already stored with a different hash")
        self.nodes.update(nodes)


# --- Hashing (RFC 9162 2.1.1) ----------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaves(leaf_datas: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed directly from the leaf data by the RFC 9162 2.1.1 recursion.

    O(n) hashing: meant as a reference for tests and for small inputs.
    """
    n = len(leaf_datas)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaf_datas[0])
    k = _split(n)
    return node_hash(root_from_leaves(leaf_datas[:k]), root_from_leaves(leaf_datas[k:]))


# --- Writing ---------------------------------------------------------------------------


def append_nodes(size: int, leaf_datas: Sequence[bytes], store: NodeStore) -> dict[NodeKey, bytes]:
    """Every perfect-subtree node created by appending ``leaf_datas`` to a log of ``size``.

    The result includes the new leaf hashes (level 0) and every interior node the new
    leaves complete; the caller persists them. Reads only the right-edge frontier
    nodes that new nodes are built on (at most log2(size) + 1), in at most one
    ``get_nodes`` call. Raises MissingNodeError if the store does not hold a log of
    ``size`` leaves.
    """
    _check_size("size", size)
    if not leaf_datas:
        return {}
    new_size = size + len(leaf_datas)
    # The current tree is the fold of its maximal perfect subtrees. Each of those is
    # a left child (its index is even); it is needed only if the append completes
    # its parent.
    frontier = [
        (level, index)
        for level, index in _perfect_keys(0, size)
        if ((index >> 1) + 1) << (level + 1) <= new_size
    ]
    known = _fetch(store, frontier)
    created: dict[NodeKey, bytes] = {}
    for offset, data in enumerate(leaf_datas):
        level, index = 0, size + offset
        digest = leaf_hash(data)
        created[(level, index)] = digest
        # A right child (odd index) completes its parent: carry upwards like a
        # binary counter.
        while index & 1:
            sibling = (level, index - 1)
            left = created[sibling] if sibling in created else known[sibling]
            digest = node_hash(left, digest)
            level, index = level + 1, index >> 1
            created[(level, index)] = digest
    return created


# --- Reading ---------------------------------------------------------------------------


def root(size: int, store: NodeStore) -> bytes:
    """MTH(D[size]), the root of the first ``size`` leaves (EMPTY_ROOT for 0).

    One ``get_nodes`` call for the at most log2(size) + 1 maximal perfect subtrees;
    none for the empty tree.
    """
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return _subtree_hashes([(0, size)], store)[0]


def inclusion_proof(index: int, size: int, store: NodeStore) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1, ordered from the leaf upwards.

    Raises ValueError unless 0 <= index < size. One ``get_nodes`` call (none when
    the proof is empty, i.e. size 1).
    """
    _check_size("size", size)
    _check_size("index", index)
    if index >= size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _subtree_hashes(_inclusion_ranges(index, size), store)


def inclusion_proof_keys(index: int, size: int) -> set[NodeKey]:
    """The stored nodes that ``inclusion_proof(index, size, ...)`` reads.

    Lets a caller fetch the nodes of many proofs in one query and hand them over in an
    ``InMemoryStore``.
    """
    ranges = _inclusion_ranges(index, size)
    return {key for start, end in ranges for key in _perfect_keys(start, end)}


def consistency_proof(old_size: int, new_size: int, store: NodeStore) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1.

    Raises ValueError unless 0 <= old_size <= new_size. The proof is empty when
    old_size is 0 or equal to new_size (RFC 9162 defines PROOF for 0 < m < n only; an
    empty tree is a prefix of every tree). One ``get_nodes`` call otherwise.
    """
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    return _subtree_hashes(_consistency_ranges(old_size, new_size), store)


# --- Verifying -------------------------------------------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 2.1.3.2. Returns None on success; raises ProofError on any failure: an
    index outside the tree, a proof of the wrong length, or hashes that do not lead
    to ``root``.
    """
    _check_digest("leaf hash", leaf_hash)
    _check_digest("root", root)
    for position, element in enumerate(proof):
        _check_digest(f"inclusion proof element {position}", element)
    if not _is_count(index) or not _is_count(size):
        raise ProofError(f"leaf index {index!r} and tree size {size!r} must be integers >= 0")
    # Step 1.
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    expected = _inclusion_length(index, size)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes; leaf {index} of a tree of size "
            f"{size} needs exactly {expected}"
        )
    # Steps 2-4.
    fn, sn = index, size - 1
    computed = leaf_hash
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            computed = node_hash(computed, element)
        fn, sn = fn >> 1, sn >> 1
    # Step 5.
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if computed != root:
        raise ProofError(
            f"inclusion proof leads to root {computed.hex()}, not {root.hex()}: leaf {index} "
            f"is not in the tree of size {size} with that root"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of the tree of
    ``new_size`` with ``new_root``.

    RFC 9162 2.1.4.2, extended to the trivial cases: equal sizes need an empty proof
    and equal roots; old size 0 needs an empty proof and old_root == EMPTY_ROOT.
    Returns None on success; raises ProofError on any failure.
    """
    _check_digest("old root", old_root)
    _check_digest("new root", new_root)
    for position, element in enumerate(proof):
        _check_digest(f"consistency proof element {position}", element)
    if not _is_count(old_size) or not _is_count(new_size):
        raise ProofError(f"tree sizes {old_size!r} and {new_size!r} must be integers >= 0")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError(
                f"a consistency proof from size {old_size} to {new_size} must be empty, "
                f"got {len(proof)} hashes"
            )
        expected_old = EMPTY_ROOT if old_size == 0 else new_root
        if old_root != expected_old:
            raise ProofError(
                f"old root {old_root.hex()} should be {expected_old.hex()} for a tree of size "
                f"{old_size} that is a prefix of the new tree"
            )
        return
    expected = len(_consistency_ranges(old_size, new_size))
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes; size {old_size} to {new_size} needs "
            f"exactly {expected}"
        )
    # Step 2: a perfect old tree is itself a node of the new tree, and the proof
    # leaves it out.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # Steps 5-6.
    old_computed = new_computed = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old_computed = node_hash(element, old_computed)
            new_computed = node_hash(element, new_computed)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_computed = node_hash(new_computed, element)
        fn, sn = fn >> 1, sn >> 1
    # Step 7.
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if old_computed != old_root:
        raise ProofError(
            f"consistency proof rebuilds old root {old_computed.hex()}, not {old_root.hex()}: "
            f"the tree of size {old_size} is not a prefix of the tree of size {new_size}"
        )
    if new_computed != new_root:
        raise ProofError(
            f"consistency proof rebuilds new root {new_computed.hex()}, not {new_root.hex()}: "
            f"the tree of size {new_size} does not extend the tree of size {old_size}"
        )


# --- Planning --------------------------------------------------------------------------


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1), as in RFC 9162 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_length(index: int, size: int) -> int:
    """len(_inclusion_ranges(index, size)), without building them: the levels where the
    paths to ``index`` and to the last leaf differ, plus the left siblings above them."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose hashes form PATH(index, D[size]), in proof order.

    RFC 9162 2.1.3.1 recurses into the half holding the leaf and appends the other
    half's hash after the sub-path; walking down and reversing gives the same order.
    """
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form PROOF(old_size, D[new_size]), 0 < old < new.

    RFC 9162 2.1.4.1 SUBPROOF(m, D[start:end], b): while m < n, recurse left (keeping
    b) when m <= k, else recurse right with b = false; the base case contributes
    MTH(D[start:end]) only when b is false. Sub-proofs come before sibling hashes.
    """
    ranges: list[tuple[int, int]] = []
    start, end, m, is_old_root = 0, new_size, old_size, True
    while m < end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, is_old_root = start + k, m - k, False
    if not is_old_root:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _perfect_keys(start: int, end: int) -> list[NodeKey]:
    """Split leaves [start, end) into maximal aligned perfect subtrees, left to right.

    For the ranges the RFC algorithms visit (a perfect subtree, or a right-edge
    subtree whose start is aligned to the power of two above its length), the pieces
    are the bits of end - start from high to low, and folding them from the right
    reproduces the RFC 9162 2.1.1 split exactly.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _subtree_hashes(ranges: Sequence[tuple[int, int]], store: NodeStore) -> list[bytes]:
    """MTH(D[start:end]) for each range, fetching every node needed in one call."""
    plans = [_perfect_keys(start, end) for start, end in ranges]
    nodes = _fetch(store, {key for plan in plans for key in plan})
    hashes = []
    for plan in plans:
        digest = nodes[plan[-1]]
        for key in reversed(plan[:-1]):
            digest = node_hash(nodes[key], digest)
        hashes.append(digest)
    return hashes


def _fetch(store: NodeStore, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
    if not keys:
        return {}
    wanted = sorted(set(keys))
    found = store.get_nodes(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        raise MissingNodeError(missing)
    return found


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_size(name: str, value: int) -> None:
    if not _is_count(value):
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _check_digest(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise ProofError(f"{name} must be {HASH_BYTES} bytes of SHA-256")
