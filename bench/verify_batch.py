"""Throughput of the verifier's batch mode, on a real chain, on one core.

Seals N indicators into a log (the portal's way: RFC 8785, salted leaf, Ed25519), anchors it
on a throwaway anvil in a few checkpoints, writes the N (object, receipt) pairs as JSON lines
and a trust root, then times `python -m ledger.verify --batch` in-process: receipts/s over the
whole run (chain reads included: one per checkpoint), and the same for the checks alone.

    .venv/bin/python bench/verify_batch.py [--items 20000] [--checkpoints 4]
"""

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import merkle, verify  # noqa: E402
from ledger.canonical import canonicalize, item_leaf, new_salt, sha256  # noqa: E402
from ledger.chain import AnchorChain  # noqa: E402
from ledger.receipts import build_receipt  # noqa: E402
from ledger.signing import generate_keypair, sign  # noqa: E402
from ledger.trust_root import build_trust_root, parse_trust_root  # noqa: E402
from tests.anvil import ANVIL_DEV_ADDRESS, ANVIL_DEV_KEY, start_anvil  # noqa: E402


def indicator(number: int) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": f"C2 server {number}",
        "pattern": f"[ipv4-addr:value = '198.51.{number // 256 % 256}.{number % 256}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "labels": ["malicious-activity"],
        "confidence": 80,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--checkpoints", type=int, default=4)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    private_key, public_key = generate_keypair()
    objects, sealed = [], []
    for number in range(args.items):
        obj = indicator(number)
        canonical, salt = canonicalize(obj), new_salt()
        leaf = item_leaf(salt, canonical)
        objects.append(obj)
        sealed.append((sha256(canonical), salt, leaf, sign(private_key, leaf)))
    store = merkle.InMemoryStore()
    store.put_nodes(merkle.append_nodes(0, [s[2] for s in sealed], store))

    with start_anvil() as anvil, tempfile.TemporaryDirectory() as work:
        address = AnchorChain(anvil.url).deploy(ANVIL_DEV_KEY).address
        chain = AnchorChain(anvil.url, address)
        step = -(-args.items // args.checkpoints)
        sizes = [min(size, args.items) for size in range(step, args.items + step, step)]
        anchors, latest = {}, 0
        for size in sizes:
            proof = merkle.consistency_proof(latest, size, store)
            signed = chain.sign_anchor(ANVIL_DEV_KEY, size, merkle.root(size, store), proof)
            mined = chain.wait_mined(chain.send_raw(signed.raw))
            anchors[size], latest = (mined.transaction_hash, mined.block_number), size
        lines = []
        for index, (obj, (canonical_hash, salt, leaf, signature)) in enumerate(
            zip(objects, sealed, strict=True)
        ):
            size = next(s for s in sizes if s > index)
            receipt = build_receipt(
                subject=f"{obj['id']}@{obj['modified']}",
                canonical_hash=canonical_hash,
                salt=salt,
                leaf=leaf,
                signature=signature,
                public_key=public_key,
                leaf_index=index,
                tree_size=size,
                root=merkle.root(size, store),
                inclusion_proof=merkle.inclusion_proof(index, size, store),
                chain_id=31337,
                contract=address,
                transaction_hash=anchors[size][0],
                block_number=anchors[size][1],
            )
            lines.append(json.dumps({"object": obj, "receipt": receipt}))
        batch = Path(work) / "items.jsonl"
        batch.write_text("\n".join(lines))
        trust_doc = build_trust_root(
            chain_id=31337,
            contract=address,
            anchor_senders=[ANVIL_DEV_ADDRESS],
            confirmations=1,
            keys=[
                {
                    "public_key": public_key,
                    "organisation": "identity--bench",
                    "custody": "organisation-held",
                    "valid_from": datetime(2020, 1, 1, tzinfo=UTC),
                }
            ],
        )
        trust_path = Path(work) / "trust-root.json"
        trust_path.write_text(json.dumps(trust_doc))

        reads = []
        original = AnchorChain.anchor_facts

        def counted(self, *a, **k):
            reads.append(a)
            return original(self, *a, **k)

        AnchorChain.anchor_facts = counted
        started, cpu_started = time.perf_counter(), time.process_time()
        code = verify.main(
            ["--batch", str(batch), "--trust-root", str(trust_path), "--rpc-url", anvil.url]
        )
        whole, whole_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        AnchorChain.anchor_facts = original

        items = [json.loads(line) for line in lines]
        trust = parse_trust_root(trust_doc)
        started, cpu_started = time.perf_counter(), time.process_time()
        results = verify.verify_batch(
            [(item["object"], item["receipt"]) for item in items],
            chain=AnchorChain(anvil.url, address),
            trust_root=trust,
        )
        checks_only = time.perf_counter() - started
        checks_cpu = time.process_time() - cpu_started
        assert all(all(c.ok for c in checks) for checks in results)

    n = args.items
    print(
        f"{n:,} receipts; exit status {code}; {len(reads)} chain reads for {len(sizes)} checkpoints"
    )
    # CPU time is what one core spends, whatever else the machine runs meanwhile.
    print(f"load average: {os.getloadavg()[0]:.1f} (2 cores shared with other work)")
    print(
        f"command (reads and parses the files): {n / whole:,.0f} receipts/s wall, "
        f"{n / whole_cpu:,.0f} per CPU second"
    )
    print(
        f"library (parsed input):               {n / checks_only:,.0f} receipts/s wall, "
        f"{n / checks_cpu:,.0f} per CPU second"
    )


if __name__ == "__main__":
    main()
