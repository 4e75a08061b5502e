"""The cached chain reader asks the node each question once, and keeps only lasting facts."""

from ledger import reader_cache
from ledger.reader_cache import CachedAnchorReader


class CountingChain:
    def __init__(self, url: str) -> None:
        self.rpc_url = url
        self.contract_address = "0x" + "ab" * 20
        self.calls: list[tuple] = []
        self.roots = {3: b"r" * 32}

    def chain_id(self) -> int:
        self.calls.append(("chain_id",))
        return 31337

    def anchored_root(self, tree_size: int) -> bytes | None:
        self.calls.append(("anchored_root", tree_size))
        return self.roots.get(tree_size)

    def block_number(self) -> int:
        self.calls.append(("block_number",))
        return len(self.calls)


def test_a_batch_asks_each_question_once():
    node = CountingChain("http://batch.example")
    chain = CachedAnchorReader(node)
    for _ in range(5):
        assert chain.chain_id() == 31337
        assert chain.anchored_root(3) == b"r" * 32
        chain.block_number()
    assert node.calls == [("chain_id",), ("anchored_root", 3), ("block_number",)]
    assert chain.reads == 3


def test_only_lasting_positive_answers_outlive_the_batch():
    reader_cache._lasting.clear()
    node = CountingChain("http://lasting.example")
    first = CachedAnchorReader(node)
    first.chain_id(), first.anchored_root(3), first.anchored_root(5), first.block_number()

    node.calls.clear()
    node.roots[5] = b"s" * 32  # size 5 is anchored meanwhile
    second = CachedAnchorReader(node)
    assert second.chain_id() == 31337 and second.anchored_root(3) == b"r" * 32
    assert second.anchored_root(5) == b"s" * 32  # asked again: "not anchored" was no fact
    second.block_number()  # the head moves: never kept beyond a batch
    assert node.calls == [("anchored_root", 5), ("block_number",)]

    other_node = CountingChain("http://other.example")
    CachedAnchorReader(other_node).chain_id()
    assert other_node.calls == [("chain_id",)]  # answers belong to their node
