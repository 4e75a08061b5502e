"""A chain reader that asks the node each question once.

Verifying a batch of receipts asks the same few questions again and again: the chain id, whether
the contract has code, the root anchored at a tree size, the block of an anchoring transaction.
Their answers are fixed once a checkpoint is final, so one batch reads each of them from the
node once and checks every copy locally. No Django here: the verifier may use it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class CachedAnchorReader:
    """Wraps a chain reader (see ledger.verify.AnchorReader); every read method is answered
    from memory after its first call with the same arguments.

    Meant to live for one batch: answers are kept for its lifetime, a node error is raised to
    the caller and not remembered.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._answers: dict[tuple, Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        read = getattr(self._reader, name)
        if not callable(read):
            return read

        def cached(*args: Any) -> Any:
            question = (name, *args)
            if question not in self._answers:
                self._answers[question] = read(*args)
            return self._answers[question]

        return cached

    @property
    def reads(self) -> int:
        """How many questions went to the node."""
        return len(self._answers)
