"""Throughput of the monitor's own work: following checkpoint events and checking proofs.

Anchors C checkpoints of a growing in-memory log on a throwaway anvil (each with its
consistency proof, as the portal does), then runs ledger.monitor.run over them with proofs
served from the same in-memory log (no HTTP: the portal's round trip, one GET per checkpoint,
is not counted) and prints checkpoints per second.

    .venv/bin/python bench/monitor_throughput.py [--checkpoints 300] [--per-checkpoint 50]
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import merkle, monitor  # noqa: E402
from ledger.chain import AnchorChain  # noqa: E402
from tests.anvil import ANVIL_DEV_KEY, start_anvil  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", type=int, default=300)
    parser.add_argument("--per-checkpoint", type=int, default=50)
    args = parser.parse_args()
    store = merkle.InMemoryStore()
    size = 0
    with start_anvil() as anvil:
        deployed = AnchorChain(anvil.url).deploy(ANVIL_DEV_KEY)
        chain = AnchorChain(anvil.url, deployed.address)
        for number in range(args.checkpoints):
            leaves = [
                (number * args.per_checkpoint + i).to_bytes(32, "big")
                for i in range(args.per_checkpoint)
            ]
            store.put_nodes(merkle.append_nodes(size, leaves, store))
            new_size = size + len(leaves)
            proof = merkle.consistency_proof(size, new_size, store)
            signed = chain.sign_anchor(ANVIL_DEV_KEY, new_size, merkle.root(new_size, store), proof)
            chain.wait_mined(chain.send_raw(signed.raw))
            size = new_size

        def proofs(first: int, second: int) -> dict:
            return {
                "first": {"tree_size": first, "root": merkle.root(first, store).hex()},
                "second": {"tree_size": second, "root": merkle.root(second, store).hex()},
                "proof": [n.hex() for n in merkle.consistency_proof(first, second, store)],
            }

        started = time.perf_counter()
        report = monitor.run(
            chain=chain, proofs=proofs, from_block=deployed.block_number, previous=None
        )
        elapsed = time.perf_counter() - started
    assert not report.problems, report.problems
    print(
        f"{report.checked} checkpoints (log of {size:,} entries) checked in {elapsed:.2f} s: "
        f"{report.checked / elapsed:,.0f} checkpoints/s (eth_getLogs in chunks of 10,000 "
        f"blocks; proofs computed in-process from the same log; no HTTP round trip to a portal)"
    )


if __name__ == "__main__":
    main()
