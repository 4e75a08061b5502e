"""Page benchmark: server time of the inbox, search by observable and object pages.

Seed the database first (`manage.py seed_bench_objects --objects 100000`), then, from the
repository root, with the same DATABASE_URL:

    .venv/bin/python bench/pages.py                  # 200 requests per page kind
    .venv/bin/python bench/pages.py --requests 500 --workers 2

It starts gunicorn on a free local port (DEBUG off), logs in as the seeded reader, warms up,
then requests each kind of page one at a time and prints p50, p95 and max of the time from
sending the request to the last byte of the answer (localhost, so network time is negligible),
the CPU time the gunicorn workers spent per request (PostgreSQL's own CPU not included), which
varies much less than wall time on a machine shared with other work, the load average, and the
number of objects in the database.
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    environment = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/health/", timeout=10)
            return process
        except requests.RequestException:
            time.sleep(0.5)
    stop(process)
    raise SystemExit("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def prepare() -> tuple[str, list[str], list[int], int]:
    """A session cookie of the seeded reader, seeded IPs to search, visible object ids."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("PORTAL_ENV", "development")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from portal.models import User
    from sharing.management.commands.seed_bench_objects import READER_EMAIL, bench_address
    from sharing.models import PublishedObject

    reader = User.objects.filter(email=READER_EMAIL).first()
    if reader is None:
        raise SystemExit("Seed first: manage.py seed_bench_objects --objects 100000")
    client = Client()
    client.force_login(reader)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    total = PublishedObject.objects.count()
    indicators = PublishedObject.objects.filter(publication__organisation__name="Bench Publisher")
    seeded = indicators.filter(stix_type="indicator").count()
    rng = random.Random(1)
    addresses = [bench_address(rng.randrange(seeded)) for _ in range(50)]
    last = indicators.order_by("-id").values_list("id", flat=True).first()
    first = indicators.order_by("id").values_list("id", flat=True).first()
    object_ids = [
        indicators.filter(id__gte=rng.randint(first, last))
        .order_by("id")
        .values_list("id", flat=True)[0]
        for _ in range(50)
    ]
    return cookie, addresses, object_ids, total


def measure(session: requests.Session, urls: list[str], count: int) -> list[float]:
    times = []
    for n in range(count):
        url = urls[n % len(urls)]
        started = time.perf_counter()
        response = session.get(url, timeout=30, allow_redirects=False)
        _ = response.content
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return times


def worker_cpu_seconds(master: int) -> float:
    """User + system CPU time of the gunicorn master's children (its workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5) fields 14, 15)
    return total / ticks


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per page kind")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    cookie, addresses, object_ids, total = prepare()
    port = free_port()
    server = start_gunicorn(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    pages = {
        "inbox": [f"{base}/inbox/"],
        "search by observable": [f"{base}/search/?observable={ip}" for ip in addresses],
        "object page": [f"{base}/objects/{object_id}/" for object_id in object_ids],
    }
    try:
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        for urls in pages.values():
            measure(session, urls, 20)  # warm-up: connections, caches, worker imports
        print(f"{total} objects in the database; {args.requests} requests per page kind")
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        header = f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU ms/req':>11}"
        print(header, flush=True)
        for name, urls in pages.items():
            cpu_before = worker_cpu_seconds(server.pid)
            times = measure(session, urls, args.requests)
            cpu = (worker_cpu_seconds(server.pid) - cpu_before) * 1000 / args.requests
            print(
                f"{name:<22} {statistics.median(times):>8.1f} {percentile(times, 0.95):>8.1f} "
                f"{max(times):>8.1f} {cpu:>11.1f}",
                flush=True,
            )
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
