"""TAXII 2.1 benchmark: first page, full read and POST ingest, through gunicorn on PostgreSQL.

Seed the bench collection first (cumulative: run it again to grow it), then measure:

    DATABASE_URL=postgres://... .venv/bin/python manage.py seed_taxii --objects 10000
    DATABASE_URL=postgres://... .venv/bin/python bench/taxii.py

The script starts its own gunicorn (DEBUG off, rate limit lifted) on a free port, against the
environment's DATABASE_URL, mints tokens for the bench organisation's publisher and prints:
- first page: GET objects/?limit=100 of the community collection by N clients for S seconds,
  requests/s and latency p50/p95;
- full read: one client following `next` with limit=1000 through the collection (up to
  --full-read objects), objects/s;
- ingest: N clients POSTing envelopes of 100 indicators to the organisation's collection,
  objects/s accepted (HTTP 202). A Celery worker and a chain node must be running for the
  pipeline to seal and anchor them meanwhile (`scripts/run.sh` with the same DATABASE_URL).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TAXII = "application/taxii+json;version=2.1"


def mint_tokens() -> tuple[str, str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("PORTAL_ENV", "development")
    import django

    django.setup()
    from portal.models import TokenScope, User
    from portal.services import create_api_token
    from sharing.management.commands.seed_taxii import PUBLISHER

    user = User.objects.get(email=PUBLISHER)
    _, read = create_api_token(user=user, name="bench read", scope=TokenScope.READ)
    _, publish = create_api_token(
        user=user,
        name="bench publish",
        scope=TokenScope.PUBLISH,
        dangerously_skip_second_factor=True,
    )
    return read, publish


def start_gunicorn(workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DEBUG": "false", "API_RATE_LIMIT": "100000000/minute"}
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--preload",
        # Validating an envelope of 100 objects takes seconds of CPU on a busy machine.
        "--timeout",
        "300",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a busy machine boots workers slowly
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/api/health/", timeout=30)
            return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def collections(url: str, token: str) -> dict[str, str]:
    response = requests.get(
        f"{url}/taxii2/api/collections/",
        headers={"Authorization": f"Bearer {token}", "Accept": TAXII},
        timeout=30,
    )
    response.raise_for_status()
    return {
        c["alias"]: f"{url}/taxii2/api/collections/{c['id']}/"
        for c in response.json()["collections"]
    }


def first_page(collection: str, token: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
        mine = []
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = session.get(collection + "objects/?limit=100", headers=headers, timeout=60)
            assert response.status_code == 200 and len(response.json()["objects"]) == 100
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def full_read(collection: str, token: str, most: int, page: int) -> dict:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
    read, pages, cursor = 0, 0, None
    started = time.perf_counter()
    while read < most:
        params = {"limit": page, **({"next": cursor} if cursor else {})}
        body = session.get(
            collection + "objects/", params=params, headers=headers, timeout=120
        ).json()
        read += len(body["objects"])
        pages += 1
        if not body["more"]:
            break
        cursor = body["next"]
    elapsed = time.perf_counter() - started
    return {"objects": read, "pages": pages, "seconds": elapsed, "objects_per_s": read / elapsed}


def ingest(collection: str, token: str, clients: int, envelopes: int, size: int) -> dict:
    from sharing.management.commands.seed_taxii import indicator

    bodies = [
        {"objects": [{**indicator(n), "id": f"indicator--{uuid.uuid4()}"} for n in range(size)]}
        for _ in range(envelopes)
    ]
    accepted = []
    lock = threading.Lock()

    def client(mine: list[dict]) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Accept": TAXII, "Content-Type": TAXII}
        for body in mine:
            response = session.post(
                collection + "objects/", json=body, headers=headers, timeout=120
            )
            assert response.status_code == 202, response.text
            status = response.json()
            assert status["failure_count"] == 0, status["failures"][:1]
            with lock:
                accepted.append(status["total_count"])

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"objects": sum(accepted), "seconds": elapsed, "objects_per_s": sum(accepted) / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server instead of starting gunicorn")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--full-read", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--envelopes", type=int, default=40, help="0 to skip the ingest")
    parser.add_argument("--envelope-size", type=int, default=100)
    args = parser.parse_args()

    read_token, publish_token = mint_tokens()
    server = None
    url = args.url
    if url is None:
        server, url = start_gunicorn(args.workers)
    try:
        found = collections(url, read_token)
        community = found["community"]
        print(f"load average before: {os.getloadavg()}")
        requests.get(
            community + "objects/?limit=100",
            headers={"Authorization": f"Bearer {read_token}", "Accept": TAXII},
            timeout=60,
        )
        result = first_page(community, read_token, args.clients, args.seconds)
        print(
            f"first page (limit 100), {args.clients} clients: {result['rps']:.0f} requests/s, "
            f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms "
            f"({result['requests']} requests)"
        )
        if args.full_read:
            result = full_read(community, read_token, args.full_read, args.page)
            print(
                f"full read: {result['objects']} objects in {result['pages']} pages, "
                f"{result['seconds']:.1f} s, {result['objects_per_s']:.0f} objects/s"
            )
        if args.envelopes:
            own = collections(url, publish_token)["organisation"]
            result = ingest(own, publish_token, args.clients, args.envelopes, args.envelope_size)
            print(
                f"ingest: {result['objects']} objects in envelopes of {args.envelope_size}, "
                f"{result['seconds']:.1f} s, {result['objects_per_s']:.0f} objects/s accepted"
            )
        print(f"load average after: {os.getloadavg()}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
