"""Fan-out benchmark: one publication to many organisations, timed until its last webhook and
its last mail arrive; then the same with some endpoints hanging, to show they delay nobody else.

It starts its own stack as bench/pipeline.py does (a fresh PostgreSQL database, anvil,
gunicorn, the pipeline worker, the webhook worker and beat), creates `--organisations`
organisations with `--endpoints` webhook endpoints spread over them, all on loopback receivers
in this process (`WEBHOOK_ALLOW_PRIVATE_TARGETS`), and publishes one community publication.
Printed per run and channel: deliveries received of those expected, seconds from the publish
request to the last one, and CPU milliseconds per delivery of the process that sends the
channel; then the CPU per delivery of the pipeline worker and of the webhook worker over all
channels. In the second run `--hanging` of the endpoints accept the POST and never answer (the
portal gives up on each after `WEBHOOK_TIMEOUT_SECONDS`); the time until the last *healthy*
webhook is what isolation keeps.

Deliveries go through channels (`--channels`, default both): `webhook` as above, and `email`:
`--subscribers` members spread over the organisations, each with their own notification
settings "an email for each publication" and no filters, whose notices the pipeline worker
sends over SMTP to an aiosmtpd server in this process (the workers are started with
`EMAIL_BACKEND` set to Django's SMTP backend and pointed at it). Hanging webhook endpoints
change nothing for email, so every subscriber's mail is expected in both runs.

From the repository root, with the environment set up:

    nice .venv/bin/python -m bench.fanout
    nice .venv/bin/python -m bench.fanout --organisations 20 --endpoints 100 --hanging 5 --json
    nice .venv/bin/python -m bench.fanout --channels email --subscribers 5000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from aiosmtpd.controller import Controller

from bench.pipeline import PY, ROOT, Stack, bundle, set_up_organisations, start_stack


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


class MailReceiver:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that records when each recipient's first message
    arrives; messages are accepted and dropped, not parsed."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:
                arrived = time.perf_counter()
                with receiver.lock:
                    for address in envelope.rcpt_tos:
                        receiver.arrivals.setdefault(address.lower(), arrived)
                return "250 Message accepted"

        # The controller checks that it is up by connecting to its port: it needs a fixed one.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()

    def stop(self) -> None:
        self.controller.stop()


class Channel:
    """A delivery channel under test: sets up its recipients, then counts arrivals."""

    name = "channel"
    # The stack process that sends this channel's deliveries (its CPU is charged to them).
    process = "worker"

    def environment(self) -> dict[str, str]:
        """What the stack's processes need in their environment for this channel (asked before
        the stack starts)."""
        return {}

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
    process = "webhooks"  # the webhook worker (its own queue and pool)

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


# Members with their own "an email for each publication" settings, created in bulk on the
# benchmark's database (no invitations, no passwords, no audit rows: bench data only).
SUBSCRIBERS_SCRIPT = """
import json, sys, django
django.setup()
from django.contrib.auth.hashers import make_password
from portal.models import Organisation, Role, User
from sharing.models import NotificationChannel, NotificationSettings
count = int(sys.argv[1])
organisations = list(
    Organisation.objects.filter(name__startswith="Bench organisation ").values_list("id", flat=True)
)
unusable = make_password(None)
users = User.objects.bulk_create(
    [
        User(
            email=f"subscriber{n}@bench.example",
            organisation_id=organisations[n % len(organisations)],
            role=Role.READER,
            password=unusable,
        )
        for n in range(count)
    ],
    batch_size=500,
)
NotificationSettings.objects.bulk_create(
    [
        NotificationSettings(
            organisation_id=user.organisation_id, user=user, channel=NotificationChannel.EMAIL
        )
        for user in users
    ],
    batch_size=500,
)
print(json.dumps([user.email for user in users]))
"""


class EmailChannel(Channel):
    name = "email"
    process = "worker"  # sharing.tasks.send_email_notices runs on the pipeline worker

    def __init__(self) -> None:
        self.receiver = MailReceiver()

    def environment(self) -> dict[str, str]:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.receiver.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
        }

    def set_up(self, stack: Stack, organisations: list[dict], args: argparse.Namespace) -> None:
        env = {**stack.env, "DJANGO_SETTINGS_MODULE": "portal.settings"}
        result = subprocess.run(
            [PY, "-c", SUBSCRIBERS_SCRIPT, str(args.subscribers)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.addresses = set(json.loads(result.stdout.strip().splitlines()[-1]))

    def start_run(self, hanging: int) -> int:
        self.receiver.reset()
        return len(self.addresses)

    def arrived(self) -> tuple[int, float | None]:
        with self.receiver.lock:
            times = [
                t for address, t in self.receiver.arrivals.items() if address in self.addresses
            ]
        return len(times), max(times) if times else None

    def release(self) -> None:
        self.receiver.stop()


CHANNELS = {"webhook": WebhookChannel, "email": EmailChannel}


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
    for channel in channels:
        # The sending process's CPU over this channel's deliveries (the pipeline worker's also
        # holds sealing, anchoring and delivering the one publication).
        seconds = cpu_after[channel.process] - cpu_before[channel.process]
        results[channel.name]["cpu_ms_per_delivery"] = {
            channel.process: round(seconds * 1000 / (results[channel.name]["arrived"] or 1), 2)
        }
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
    parser.add_argument("--subscribers", type=int, default=1000, help="email, per publication")
    parser.add_argument(
        "--channels", default="webhook,email", help=f"comma-separated, of {', '.join(CHANNELS)}"
    )
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

    names = [name.strip() for name in args.channels.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNELS]
    if unknown or not names:
        parser.error(
            f"--channels: unknown {', '.join(unknown) or 'empty'}; of {', '.join(CHANNELS)}"
        )
    log_dir = ROOT / "var" / "bench-fanout"
    log_dir.mkdir(parents=True, exist_ok=True)
    channels = [CHANNELS[name]() for name in names]
    extra_env: dict[str, str] = {}
    for channel in channels:
        extra_env.update(channel.environment())
    stack = None
    try:
        stack = start_stack(args, log_dir, extra_env)
        organisations = set_up_organisations(stack, args.organisations)
        for channel in channels:
            channel.set_up(stack, organisations, args)
        header = (
            f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.organisations} "
            f"organisations, {args.endpoints} endpoints, {args.subscribers} email subscribers "
            f"({', '.join(names)}); worker concurrency "
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
                own = ", ".join(f"{k} {v} ms" for k, v in channel["cpu_ms_per_delivery"].items())
                print(
                    f"{hanging:>3} hanging: {channel['arrived']}/{channel['expected']} {name} "
                    f"deliveries, last after {channel['seconds_to_last']} s; CPU per {name} "
                    f"delivery: {own}",
                    flush=True,
                )
            print(
                "     CPU per delivery, all channels: "
                + ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_delivery"].items()),
                flush=True,
            )
    finally:
        for channel in channels:
            getattr(channel, "release", lambda: None)()
        if stack is not None:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
