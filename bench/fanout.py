"""Fan-out benchmark: one publication to many organisations, timed until its last webhook
arrives; then the same with some endpoints hanging, to show that they delay nobody else.

It starts its own stack as bench/pipeline.py does (a fresh PostgreSQL database, anvil,
gunicorn, the pipeline worker, the webhook worker and beat), creates `--organisations`
organisations with `--endpoints` webhook endpoints spread over them, all on loopback receivers
in this process (`WEBHOOK_ALLOW_PRIVATE_TARGETS`), and publishes one community publication.
Printed per run: seconds from the publish request to the last webhook, and CPU milliseconds
per delivery of the pipeline worker and of the webhook worker. In the second run `--hanging`
of the endpoints accept the POST and never answer (the portal gives up on each after
`WEBHOOK_TIMEOUT_SECONDS`); the time until the last *healthy* webhook is what isolation keeps.

Deliveries go through channels (`--channels`); only `webhook` exists so far: another channel
(email subscribers, say) is one more `Channel` subclass measured the same way.

From the repository root, with the environment set up:

    nice .venv/bin/python -m bench.fanout
    nice .venv/bin/python -m bench.fanout --organisations 20 --endpoints 100 --hanging 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bench.pipeline import ROOT, Stack, bundle, set_up_organisations, start_stack


class WebhookReceivers:
    """Loopback receivers: `servers` HTTP servers share the endpoints, told apart by path.
    Records when each endpoint's first POST arrives; paths in `hanging` take the request and
    never answer (until `release`)."""

    def __init__(self, servers: int) -> None:
        self.arrivals: dict[str, float] = {}
        self.hanging: set[str] = set()
        self.lock = threading.Lock()
        self.released = threading.Event()
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path in receivers.hanging:
                    receivers.released.wait()
                    return
                with receivers.lock:
                    receivers.arrivals.setdefault(self.path, time.perf_counter())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.servers = []
        for _ in range(servers):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            server.request_queue_size = 1024
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def url(self, index: int) -> str:
        server = self.servers[index % len(self.servers)]
        return f"http://127.0.0.1:{server.server_address[1]}/hook/{index}"

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()


class Channel:
    """A delivery channel under test: sets up its recipients, then counts arrivals."""

    name = "channel"

    def set_up(self, stack: Stack, organisations: list[dict], args: argparse.Namespace) -> None:
        raise NotImplementedError

    def start_run(self, hanging: int) -> int:
        """Prepare a run; return how many arrivals complete it."""
        raise NotImplementedError

    def arrived(self) -> tuple[int, float | None]:
        """How many arrived so far, and when the last of them did."""
        raise NotImplementedError


class WebhookChannel(Channel):
    name = "webhook"

    def set_up(self, stack: Stack, organisations: list[dict], args: argparse.Namespace) -> None:
        self.receivers = WebhookReceivers(args.receiver_servers)

        def register(index: int) -> None:
            tokens = organisations[index % len(organisations)]
            url = self.receivers.url(index)
            requests.post(
                f"{stack.web_url}/api/webhooks/",
                json={"url": url},
                headers={"Authorization": f"Bearer {tokens['ORG_ADMIN']}"},
                timeout=60,
            ).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(args.endpoints)))
        self.count = args.endpoints

    def start_run(self, hanging: int) -> int:
        self.receivers.reset()
        self.receivers.hanging = {f"/hook/{index}" for index in range(hanging)}
        return self.count - hanging

    def arrived(self) -> tuple[int, float | None]:
        with self.receivers.lock:
            times = list(self.receivers.arrivals.values())
        return len(times), max(times) if times else None

    def release(self) -> None:
        self.receivers.released.set()


CHANNELS = {"webhook": WebhookChannel}


def run(
    stack: Stack,
    organisations: list[dict],
    channels: list[Channel],
    *,
    hanging: int,
    timeout: float,
) -> dict:
    expected = {channel.name: channel.start_run(hanging) for channel in channels}
    cpu_before = stack.cpu()
    started = time.perf_counter()
    response = requests.post(
        f"{stack.web_url}/api/publications/",
        json={"bundle": bundle(1), "distribution": "community", "tlp": "green"},
        headers={"Authorization": f"Bearer {organisations[0]['PUBLISHER']}"},
        timeout=120,
    )
    response.raise_for_status()
    deadline = started + timeout
    results = {}
    for channel in channels:
        while True:
            count, last = channel.arrived()
            if count >= expected[channel.name] or time.perf_counter() > deadline:
                break
            time.sleep(0.05)
        results[channel.name] = {
            "expected": expected[channel.name],
            "arrived": count,
            "seconds_to_last": round(last - started, 2) if last else None,
        }
    cpu_after = stack.cpu()
    deliveries = sum(result["arrived"] for result in results.values()) or 1
    return {
        "hanging": hanging,
        "channels": results,
        "cpu_ms_per_delivery": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / deliveries, 2)
            for name in ("worker", "webhooks")
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=1000, help="spread over organisations")
    parser.add_argument("--hanging", type=int, default=10, help="hanging endpoints, second run")
    parser.add_argument("--channels", default="webhook", help=f"of {', '.join(CHANNELS)}")
    parser.add_argument("--receiver-servers", type=int, default=20)
    parser.add_argument("--block-time", type=float, default=0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--webhook-worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per run")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    log_dir = ROOT / "var" / "bench-fanout"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = start_stack(args, log_dir)
    channels = [CHANNELS[name.strip()]() for name in args.channels.split(",")]
    try:
        organisations = set_up_organisations(stack, args.organisations)
        for channel in channels:
            channel.set_up(stack, organisations, args)
        header = (
            f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.organisations} "
            f"organisations, {args.endpoints} endpoints; worker concurrency "
            f"{args.worker_concurrency}, webhook worker concurrency "
            f"{args.webhook_worker_concurrency}"
        )
        if not args.json:
            print(header)
        for hanging in (0, args.hanging):
            result = run(stack, organisations, channels, hanging=hanging, timeout=args.timeout)
            if args.json:
                print(json.dumps(result))
                continue
            for name, channel in result["channels"].items():
                print(
                    f"{hanging:>3} hanging: {channel['arrived']}/{channel['expected']} {name} "
                    f"deliveries, last after {channel['seconds_to_last']} s; CPU per delivery: "
                    + ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_delivery"].items())
                )
    finally:
        for channel in channels:
            getattr(channel, "release", lambda: None)()
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
