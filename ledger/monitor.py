"""Watch the log's checkpoints on chain and check that the portal's log only grows.

A member organisation runs this from cron, with nothing of the portal but its public API::

    python -m ledger.monitor --rpc-url URL --trust-root TRUST.json \\
        --portal https://portal.example --token ctp_... --state monitor-state.json

It reads every CheckpointAnchored event of the pinned contract since the last run (or
``--from-block``), and for each consecutive pair of checkpoints asks the portal for the RFC
9162 consistency proof (``GET /api/ledger/consistency/?first=M&second=N``) and checks it
against the roots the chain recorded, not the ones the portal states. It reports:

- a fork: the portal's proof does not verify, or the portal states a root the chain did not
  record, or a checkpoint does not grow the log;
- a gap: the portal cannot prove a checkpoint the chain holds (it has lost it).

The last verified checkpoint is kept in ``--state``, so the next run starts from it (and a
portal that rewrote history before it is caught by the first proof). Exit status: 0 all
consistent, 1 a fork or gap was found, 2 usage, node or portal errors. No Django here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ledger.merkle import ProofError, verify_consistency
from ledger.trust_root import TrustRootError, parse_trust_root

EXIT_CONSISTENT = 0
EXIT_FORK_OR_GAP = 1
EXIT_ERROR = 2


class MonitorError(Exception):
    """The monitor could not do its job (node, portal, files); not a finding about the log."""


@dataclass(frozen=True)
class Seen:
    """A checkpoint as the chain recorded it."""

    tree_size: int
    root: bytes
    block_number: int


@dataclass
class Report:
    checked: int = 0
    problems: list[str] | None = None
    last: Seen | None = None

    def problem(self, text: str) -> None:
        self.problems = [*(self.problems or []), text]


ProofSource = Callable[[int, int], dict[str, Any] | None]
"""(first size, second size) -> the portal's consistency answer, None if it has no such
checkpoint; raises MonitorError when the portal cannot be asked."""


def check_checkpoints(
    events: Sequence[Seen], *, previous: Seen | None, proofs: ProofSource
) -> Report:
    """Check that each checkpoint extends the one before (starting from ``previous``, the last
    one a former run verified), with proofs from ``proofs``."""
    report = Report(last=previous)
    for event in events:
        before = report.last
        report.last = event
        report.checked += 1
        if before is None:
            continue
        if event.tree_size <= before.tree_size:
            report.problem(
                f"fork: checkpoint of size {event.tree_size} in block {event.block_number} does "
                f"not grow the log beyond size {before.tree_size}"
            )
            continue
        answer = proofs(before.tree_size, event.tree_size)
        if answer is None:
            report.problem(
                f"gap: the portal has no proof from size {before.tree_size} to size "
                f"{event.tree_size}, which the chain anchored in block {event.block_number}"
            )
            continue
        report_fork = _check_answer(answer, before, event)
        if report_fork:
            report.problem(report_fork)
    return report


def _check_answer(answer: dict[str, Any], before: Seen, event: Seen) -> str | None:
    span = f"from size {before.tree_size} to size {event.tree_size}"
    try:
        stated = (bytes.fromhex(answer["first"]["root"]), bytes.fromhex(answer["second"]["root"]))
        proof = [bytes.fromhex(node) for node in answer["proof"]]
    except (KeyError, TypeError, ValueError):
        return f"fork: the portal's consistency answer {span} is malformed"
    if stated != (before.root, event.root):
        return (
            f"fork: the portal states roots {stated[0].hex()} and {stated[1].hex()} {span}, the "
            f"chain recorded {before.root.hex()} and {event.root.hex()}"
        )
    try:
        verify_consistency(before.tree_size, event.tree_size, before.root, event.root, proof)
    except ProofError as exc:
        return f"fork: the portal's consistency proof {span} does not verify: {exc}"
    return None


def portal_proofs(portal: str, token: str | None, *, timeout: float = 10.0) -> ProofSource:
    """Ask the portal's public API for consistency proofs."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    url = portal.rstrip("/") + "/api/ledger/consistency/"

    def fetch(first: int, second: int) -> dict[str, Any] | None:
        try:
            response = session.get(url, params={"first": first, "second": second}, timeout=timeout)
        except requests.RequestException as exc:
            raise MonitorError(f"cannot reach the portal at {portal}: {exc}") from exc
        if response.status_code == 400:
            return None  # "no confirmed checkpoint of size ...": the portal lacks it
        if response.status_code != 200:
            raise MonitorError(f"the portal answered HTTP {response.status_code} at {url}")
        try:
            return response.json()
        except ValueError as exc:
            raise MonitorError(f"the portal's answer at {url} is not JSON") from exc

    return fetch


def run(
    *,
    chain: Any,
    proofs: ProofSource,
    from_block: int,
    previous: Seen | None,
    confirmations: int = 1,
    chunk: int = 10_000,
) -> Report:
    """Follow the contract's events from ``from_block`` up to the block ``confirmations``
    deep, ``chunk`` blocks per eth_getLogs call, and check them."""
    from ledger.chain import ChainError

    try:
        head = chain.block_number() - confirmations + 1
        events: list[Seen] = []
        for start in range(from_block, head + 1, chunk):
            events += [
                Seen(event.tree_size, event.root, event.block_number)
                for event in chain.checkpoint_events(start, min(start + chunk - 1, head))
            ]
    except ChainError as exc:
        raise MonitorError(str(exc)) from exc
    return check_checkpoints(events, previous=previous, proofs=proofs)


def _load_state(path: Path | None) -> tuple[Seen | None, int | None]:
    if path is None or not path.exists():
        return None, None
    try:
        state = json.loads(path.read_text())
        seen = Seen(state["tree_size"], bytes.fromhex(state["root"]), state["block_number"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MonitorError(f"cannot read the state file {path}: {exc}") from exc
    return seen, seen.block_number + 1


def _save_state(path: Path, seen: Seen) -> None:
    state = {
        "tree_size": seen.tree_size,
        "root": seen.root.hex(),
        "block_number": seen.block_number,
    }
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(path)  # atomic: a crash never leaves half a state


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.monitor",
        description="Check that every anchored checkpoint extends the one before.",
    )
    parser.add_argument("--rpc-url", required=True, metavar="URL")
    parser.add_argument("--trust-root", required=True, metavar="TRUST.json")
    parser.add_argument("--portal", required=True, metavar="URL", help="the portal's base URL")
    parser.add_argument("--token", metavar="TOKEN", help="an API token of your organisation")
    parser.add_argument("--state", metavar="FILE", help="remember the last verified checkpoint")
    parser.add_argument("--from-block", type=int, default=0, metavar="N")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        try:
            trust = parse_trust_root(json.loads(Path(args.trust_root).read_text()))
        except (OSError, ValueError, TrustRootError) as exc:
            raise MonitorError(f"cannot use the trust root {args.trust_root}: {exc}") from exc
        state_path = Path(args.state) if args.state else None
        previous, resume = _load_state(state_path)
        from ledger.chain import AnchorChain, ChainError

        chain = AnchorChain(args.rpc_url, trust.contract)
        try:
            if chain.chain_id() != trust.chain_id:
                raise MonitorError(f"the node does not serve chain {trust.chain_id}")
        except ChainError as exc:
            raise MonitorError(str(exc)) from exc
        started = time.perf_counter()
        report = run(
            chain=chain,
            proofs=portal_proofs(args.portal, args.token),
            from_block=max(args.from_block, resume or 0),
            previous=previous,
            confirmations=trust.confirmations if isinstance(trust.confirmations, int) else 1,
        )
        elapsed = time.perf_counter() - started
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for problem in report.problems or []:
        print(problem)
    rate = report.checked / elapsed if elapsed > 0 else 0.0
    last = f"up to size {report.last.tree_size}" if report.last else "none anchored yet"
    print(f"{report.checked} checkpoint(s) checked, {last} ({rate:,.0f} checkpoints/s)")
    if report.problems:
        return EXIT_FORK_OR_GAP
    if state_path is not None and report.last is not None:
        _save_state(state_path, report.last)
    return EXIT_CONSISTENT


if __name__ == "__main__":
    sys.exit(main())
