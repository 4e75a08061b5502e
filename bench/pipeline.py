"""Pipeline benchmark: publish N items through the running stack and time their delivery.

Each item is one publication holding one STIX indicator, published over the REST API while a
webhook receiver on 127.0.0.1 waits for it. Printed per N: publish-to-webhook latency (p50, p95,
max), items per second (first publish to last webhook), and on-chain transactions per item
(distinct anchor transactions in the delivered receipts).

Run the portal first (`bash scripts/run.sh`), then, from the repository root:

    .venv/bin/python bench/pipeline.py                 # N = 1, 100, 1000
    .venv/bin/python bench/pipeline.py --sizes 1 50 --concurrency 4

It uses the database of the running portal (same environment variables) to mint API tokens for
the demo organisation's admin and publisher, registers a webhook for the run and removes it after.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMESTAMP = "2026-01-01T00:00:00.000Z"


class Receiver:
    """Records the arrival time of every delivered publication id."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.transactions: dict[int, set[str]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                arrived = time.perf_counter()
                data = json.loads(body)["data"]
                with receiver.lock:
                    receiver.arrivals.setdefault(data["publication"]["id"], arrived)
                    receiver.transactions[data["publication"]["id"]] = {
                        item["receipt"]["anchor"]["transaction_hash"] for item in data["items"]
                    }
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bench"


def mint_tokens(admin_email: str, publisher_email: str) -> tuple[str, str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from portal.models import TokenScope, User
    from portal.services import create_api_token

    tokens = []
    for email in (admin_email, publisher_email):
        user = User.objects.get(email=email)
        _, raw = create_api_token(
            user=user,
            name="benchmark",
            scope=TokenScope.PUBLISH,
            dangerously_skip_second_factor=True,
        )
        tokens.append(raw)
    return tokens[0], tokens[1]


def bundle() -> dict:
    octets = uuid.uuid4().bytes
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid4()}",
                "created": TIMESTAMP,
                "modified": TIMESTAMP,
                "name": "Benchmark indicator",
                "pattern": f"[ipv4-addr:value = '10.{octets[0]}.{octets[1]}.{octets[2]}']",
                "pattern_type": "stix",
                "valid_from": TIMESTAMP,
            }
        ],
    }


def run(
    n: int, *, url: str, publisher: dict, receiver: Receiver, concurrency: int, timeout: float
) -> dict:
    sent: dict[int, float] = {}
    session = requests.Session()

    def publish(_: int) -> None:
        started = time.perf_counter()
        response = session.post(
            f"{url}/api/publications/",
            json={"bundle": bundle(), "distribution": "organisation", "tlp": "amber"},
            headers=publisher,
            timeout=60,
        )
        response.raise_for_status()
        sent[response.json()["id"]] = started

    first = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(publish, range(n)))
    publish_seconds = time.perf_counter() - first
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            if all(pid in receiver.arrivals for pid in sent):
                break
        time.sleep(0.05)
    with receiver.lock:
        missing = [pid for pid in sent if pid not in receiver.arrivals]
        latencies = sorted(receiver.arrivals[pid] - sent[pid] for pid in sent if pid not in missing)
        last = max((receiver.arrivals[pid] for pid in sent if pid not in missing), default=first)
        transactions = set().union(*(receiver.transactions.get(pid, set()) for pid in sent))
    return {
        "n": n,
        "delivered": len(latencies),
        "missing": len(missing),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "publish_rate": n / publish_seconds,
        "items_per_second": len(latencies) / (last - first) if latencies else 0.0,
        "transactions": len(transactions),
        "tx_per_item": len(transactions) / max(1, len(latencies)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--concurrency", type=int, default=8, help="parallel publishing clients")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per run")
    parser.add_argument("--admin", default="admin@nordgrid.example")
    parser.add_argument("--publisher", default="analyst@nordgrid.example")
    args = parser.parse_args()

    admin_token, publisher_token = mint_tokens(args.admin, args.publisher)
    admin = {"Authorization": f"Bearer {admin_token}"}
    publisher = {"Authorization": f"Bearer {publisher_token}"}
    receiver = Receiver()
    hook = requests.post(
        f"{args.url}/api/webhooks/",
        json={"url": receiver.url, "description": "benchmark"},
        headers=admin,
        timeout=30,
    )
    hook.raise_for_status()
    print(f"portal {args.url}, {os.cpu_count()} cores, concurrency {args.concurrency}")
    print(
        f"{'N':>6} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'items/s':>9} {'tx':>5} {'tx/item':>8}"
    )
    try:
        for n in args.sizes:
            r = run(
                n,
                url=args.url,
                publisher=publisher,
                receiver=receiver,
                concurrency=args.concurrency,
                timeout=args.timeout,
            )
            print(
                f"{r['n']:>6} {r['p50']:>8.3f} {r['p95']:>8.3f} {r['max']:>8.3f} "
                f"{r['items_per_second']:>9.1f} {r['transactions']:>5} {r['tx_per_item']:>8.3f}"
                + (f"   ({r['missing']} not delivered in time)" if r["missing"] else "")
            )
    finally:
        requests.delete(f"{args.url}/api/webhooks/{hook.json()['id']}/", headers=admin, timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
