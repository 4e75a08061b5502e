"""Pipeline benchmark: publish through a stack of its own and time each publication until its
webhook arrives.

It starts everything itself, as a deployment runs it: a fresh PostgreSQL database, its own
anvil (optionally with a block time), gunicorn, a Celery worker and beat, plus one webhook
receiver on 127.0.0.1 per organisation. Publications are sent over the REST API by parallel
clients, each publisher of its own organisation; every publication goes to the community, so
every organisation's receiver gets it. Printed per run: publish-to-webhook latency (p50, p95,
max), publications and objects per second end to end (first publish to last webhook, and to
the last verification) and accepted by the API, anchor transactions and gas per object, and
CPU seconds per object of the web and worker processes.

From the repository root, with the environment set up (`bash scripts/test.sh` or `run.sh` once):

    .venv/bin/python bench/pipeline.py                                  # the standard runs
    .venv/bin/python bench/pipeline.py --publications 1000 --objects-per-publication 1
    .venv/bin/python bench/pipeline.py --publications 20 --objects-per-publication 100
    .venv/bin/python bench/pipeline.py --lone 20 --block-time 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TIMESTAMP = "2026-01-01T00:00:00.000Z"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- What is measured ---------------------------------------------------------------------


class Receiver:
    """Records when each publication's webhook first arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                arrived = time.perf_counter()
                publication = json.loads(body)["data"]["publication"]["id"]
                with receiver.lock:
                    receiver.arrivals.setdefault(publication, arrived)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
    total, frontier = 0.0, [root_pid]
    while frontier:
        pid = frontier.pop()
        total += times.get(pid, 0.0)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return total


# --- The stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    env: dict[str, str]
    web_url: str
    rpc_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(p.pid) for name, p in self.processes.items()}


def start_stack(
    args: argparse.Namespace, log_dir: Path, extra_env: dict[str, str] | None = None
) -> Stack:
    """Start the stack; `extra_env` is added to every process's environment (a mail server
    for the workers, say)."""
    database = args.database_url.rsplit("/", 1)[1]
    admin_url = args.database_url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(
        ["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
        check=True,
    )
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{database}"'], check=True)
    chain_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "LEDGER_RPC_URL": f"http://127.0.0.1:{chain_port}",
        "LEDGER_SENDER_KEY": ANVIL_KEY,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "DEBUG": "false",
        "PORTAL_ENV": "development",  # a local stack: the development defaults apply
        "PORTAL_VAR_DIR": str(log_dir),
        "WEB_BIND": f"127.0.0.1:{web_port}",
        "WEB_WORKERS": str(args.web_workers),
        "WEB_THREADS": str(args.web_threads),
        "API_RATE_LIMIT": "1000000/minute",
        **(extra_env or {}),
    }
    stack = Stack(env, f"http://127.0.0.1:{web_port}", env["LEDGER_RPC_URL"])

    def spawn(name: str, command: list[str]) -> None:
        out = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        stack.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    anvil = [str(ANVIL), "--host", "127.0.0.1", "--port", str(chain_port), "--chain-id", "31337"]
    if args.block_time:
        anvil += ["--block-time", str(args.block_time)]
    spawn("anvil", anvil)
    wait_until(lambda: rpc(stack.rpc_url, "eth_chainId"), "anvil")
    manage = [PY, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "deploy_anchor"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    spawn("web", [PY, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py"])
    celery = [PY, "-m", "celery", "-A", "portal"]
    spawn(
        "worker",
        [
            *celery,
            "worker",
            "-Q",
            env["CELERY_QUEUE"],
            "--concurrency",
            str(args.worker_concurrency),
        ]
        + ["-l", "WARNING", "--without-mingle", "--without-gossip"],
    )
    spawn(
        "webhooks",
        [*celery, "worker", "-Q", f"{env['CELERY_QUEUE']}.webhooks"]
        + ["--concurrency", str(getattr(args, "webhook_worker_concurrency", 2))]
        + ["-l", "WARNING", "--without-mingle", "--without-gossip"],
    )
    spawn("beat", [*celery, "beat", "-l", "WARNING", "-s", str(log_dir / "beat-schedule")])
    wait_until(lambda: requests.get(f"{stack.web_url}/api/health/", timeout=5).ok, "gunicorn")
    return stack


def rpc(url: str, method: str, *params):
    answer = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    ).json()
    return answer.get("result")


def wait_until(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up")


def set_up_organisations(stack: Stack, count: int) -> list[dict]:
    """Create `count` organisations, each with an admin and a publisher, and return their API
    tokens (through the services, in a process on the benchmark's database)."""
    script = f"""
import json, django
django.setup()
from portal.models import Role, TokenScope
from portal.services import create_api_token, create_member, create_organisation
out = []
for n in range({count}):
    org = create_organisation(name=f"Bench organisation {{n}}")
    tokens = {{}}
    for role in (Role.ORG_ADMIN, Role.PUBLISHER):
        email = f"{{role.name.lower()}}{{n}}@bench.example"
        user = create_member(organisation=org, email=email, role=role, password=None)
        tokens[role.name] = create_api_token(
            user=user, name="bench", scope=TokenScope.PUBLISH, dangerously_skip_second_factor=True
        )[1]
    out.append(tokens)
print(json.dumps(out))
"""
    env = {**stack.env, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    result = subprocess.run(
        [PY, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bundle(objects: int) -> dict:
    indicators = []
    for _ in range(objects):
        octets = uuid.uuid4().bytes
        indicators.append(
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
        )
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": indicators}


# --- One run --------------------------------------------------------------------------------


def run(
    stack: Stack,
    organisations: list[dict],
    receivers: list[Receiver],
    *,
    publications: int,
    objects: int,
    clients: int,
    lone: bool,
    timeout: float,
) -> dict:
    sent: dict[int, float] = {}
    bundles = [bundle(objects) for _ in range(publications)]
    local = threading.local()

    def publish(index: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        tokens = organisations[index % len(organisations)]
        started = time.perf_counter()
        response = local.session.post(
            f"{stack.web_url}/api/publications/",
            json={"bundle": bundles[index], "distribution": "community", "tlp": "green"},
            headers={"Authorization": f"Bearer {tokens['PUBLISHER']}"},
            timeout=120,
        )
        response.raise_for_status()
        sent[response.json()["id"]] = started
        if lone:  # one at a time: wait for this one's webhook before the next
            wait_for_arrivals(receivers[:1], [response.json()["id"]], timeout)

    cpu_before = stack.cpu()
    first = time.perf_counter()
    if lone:
        for index in range(publications):
            publish(index)
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(publish, range(publications)))
    accepted_seconds = time.perf_counter() - first
    missing = wait_for_arrivals(receivers, list(sent), timeout)
    delivered_at = time.perf_counter()
    verified_seconds = wait_for_verification(stack, timeout) - first
    cpu_after = stack.cpu()

    arrivals = receivers[0].arrivals
    latencies = sorted(arrivals[p] - sent[p] for p in sent if p in arrivals)
    last = max(max(r.arrivals[p] for p in sent if p in r.arrivals) for r in receivers)
    span = last - first
    count = publications * objects
    transactions, gas = anchor_costs(stack, sorted(sent))
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    return {
        "publications": publications,
        "objects_per_publication": objects,
        "organisations": len(organisations),
        "clients": 1 if lone else clients,
        "missing": missing,
        "latency_p50": statistics.median(latencies),
        "latency_p95": latencies[max(0, int(len(latencies) * 0.95 + 0.5) - 1)],
        "latency_max": latencies[-1],
        "publications_per_second": publications / span,
        "objects_per_second": count / span,
        "objects_per_second_verified": count / verified_seconds,
        "accepted_publications_per_second": publications / accepted_seconds,
        "accepted_objects_per_second": count / accepted_seconds,
        "anchor_transactions": transactions,
        "transactions_per_object": transactions / count,
        "gas_per_object": gas / count,
        "cpu_seconds_per_object": {name: seconds / count for name, seconds in cpu.items()},
        "seconds_to_last_webhook": delivered_at - first,
    }


def wait_for_arrivals(receivers: list[Receiver], ids: list[int], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(all(p in r.arrivals for p in ids) for r in receivers):
            return 0
        time.sleep(0.005)
    return sum(1 for r in receivers for p in ids if p not in r.arrivals)


def wait_for_verification(stack: Stack, timeout: float) -> float:
    """When no delivery is left unverified (read through psql: the benchmark stays outside
    the portal's processes)."""
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM sharing_delivery WHERE verification = 'pending'"
    while time.monotonic() < deadline:
        pending = subprocess.run(
            ["psql", stack.env["DATABASE_URL"], "-tAc", query], capture_output=True, text=True
        ).stdout.strip()
        if pending == "0":
            return time.perf_counter()
        time.sleep(0.05)
    return time.perf_counter()


def anchor_costs(stack: Stack, publication_ids: list[int]) -> tuple[int, int]:
    """Distinct anchor transactions in the run's receipts, and the gas they used."""
    query = (
        "SELECT DISTINCT receipt->'anchor'->>'transaction_hash' FROM sharing_publishedobject "
        f"WHERE publication_id BETWEEN {publication_ids[0]} AND {publication_ids[-1]}"
    )
    hashes = subprocess.run(
        ["psql", stack.env["DATABASE_URL"], "-tAc", query], capture_output=True, text=True
    ).stdout.split()
    gas = sum(
        int(rpc(stack.rpc_url, "eth_getTransactionReceipt", tx)["gasUsed"], 16) for tx in hashes
    )
    return len(hashes), gas


# --- Command line ---------------------------------------------------------------------------

STANDARD_RUNS = [
    # (label, publications, objects per publication, lone)
    ("lone", 20, 1, True),
    ("single-object burst", 1000, 1, False),
    ("bundles of 100", 20, 100, False),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publications", type=int, help="one run of this many publications")
    parser.add_argument("--objects-per-publication", type=int, default=1)
    parser.add_argument("--lone", action="store_true", help="publish one at a time")
    parser.add_argument("--clients", type=int, default=8, help="parallel publishing clients")
    parser.add_argument("--organisations", type=int, default=2, help="publishing organisations")
    parser.add_argument(
        "--block-time", type=float, default=0, help="anvil block time (0: automine)"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per run")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--json", action="store_true", help="print one JSON document per run")
    args = parser.parse_args()

    runs = STANDARD_RUNS
    if args.publications:
        runs = [("run", args.publications, args.objects_per_publication, args.lone)]
    log_dir = ROOT / "var" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = start_stack(args, log_dir)
    try:
        organisations = set_up_organisations(stack, args.organisations)
        receivers = [Receiver() for _ in organisations]
        for tokens, receiver in zip(organisations, receivers, strict=True):
            requests.post(
                f"{stack.web_url}/api/webhooks/",
                json={"url": receiver.url},
                headers={"Authorization": f"Bearer {tokens['ORG_ADMIN']}"},
                timeout=30,
            ).raise_for_status()
        machine = f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} before the runs"
        if not args.json:
            print(
                f"# {machine}; block time {args.block_time or 'automine'}; "
                f"web {args.web_workers}x{args.web_threads}, worker concurrency "
                f"{args.worker_concurrency}, {args.organisations} organisations"
            )
        for label, publications, objects, lone in runs:
            result = run(
                stack,
                organisations,
                receivers,
                publications=publications,
                objects=objects,
                clients=args.clients,
                lone=lone,
                timeout=args.timeout,
            )
            result.update(label=label, block_time=args.block_time, machine=machine)
            print(json.dumps(result) if args.json else describe(result), flush=True)
    finally:
        stack.stop()
    return 0


def describe(r: dict) -> str:
    cpu = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r["cpu_seconds_per_object"].items())
    return (
        f"{r['label']}: {r['publications']} x {r['objects_per_publication']} objects, "
        f"{r['clients']} clients\n"
        f"  latency p50 {r['latency_p50']:.3f} s, p95 {r['latency_p95']:.3f} s, "
        f"max {r['latency_max']:.3f} s"
        + (f"  ({r['missing']} webhooks missing)" if r["missing"] else "")
        + "\n"
        f"  end to end {r['publications_per_second']:.1f} publications/s, "
        f"{r['objects_per_second']:.0f} objects/s ({r['objects_per_second_verified']:.0f}/s "
        f"to the last verification); accepted {r['accepted_publications_per_second']:.1f} "
        f"publications/s, {r['accepted_objects_per_second']:.0f} objects/s\n"
        f"  {r['anchor_transactions']} anchor transactions, "
        f"{r['transactions_per_object']:.4f} per object, {r['gas_per_object']:.0f} gas per object\n"
        f"  CPU per object: {cpu}"
    )


if __name__ == "__main__":
    sys.exit(main())
