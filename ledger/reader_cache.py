"""A chain reader that asks the node each question once.

Verifying a batch of receipts asks the same few questions again and again: the chain id, whether
the contract has code, the root anchored at a tree size, the block of an anchoring transaction.
One batch reads each of them from the node once and checks every copy locally. The answers that
cannot change once given (a chain id, deployed code, an anchored root, the block of a confirmed
anchoring transaction) are also kept for the life of the process, so the next batch of the same
checkpoint asks nothing. No Django here: the verifier may use it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Read methods whose positive answers are facts of the chain, kept for the process. A root or
# a block asked too early (None, False) is asked again; any other method only per batch.
LASTING_ANSWERS = frozenset({"chain_id", "has_code", "anchored_root", "transaction_block"})
_MAX_LASTING = 100_000
_lasting: dict[tuple, Any] = {}


class CachedAnchorReader:
    """Wraps a chain reader (see ledger.verify.AnchorReader); every read method is answered
    from memory after its first call with the same arguments.

    Meant to live for one batch: answers are kept for its lifetime (and, for LASTING_ANSWERS,
    for the process's); a node error is raised to the caller and not remembered.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._source = (getattr(reader, "rpc_url", None), getattr(reader, "contract_address", None))
        self._answers: dict[tuple, Any] = {}
        self.reads = 0  # questions that went to the node

    def __getattr__(self, name: str) -> Callable[..., Any]:
        read = getattr(self._reader, name)
        if not callable(read):
            return read
        lasting = name in LASTING_ANSWERS and self._source[0] is not None

        def cached(*args: Any) -> Any:
            question = (name, *args)
            if question in self._answers:
                return self._answers[question]
            if lasting and (*self._source, *question) in _lasting:
                return _lasting[(*self._source, *question)]
            answer = read(*args)
            self.reads += 1
            self._answers[question] = answer
            if lasting and answer is not None and answer is not False:
                if len(_lasting) >= _MAX_LASTING:
                    _lasting.clear()
                _lasting[(*self._source, *question)] = answer
            return answer

        return cached
