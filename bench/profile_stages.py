"""Profile each pipeline stage in one process with cProfile, and print where the time goes.

It publishes N publications through the REST API (Django's test client: the whole request path,
authentication, validation and storage, without the network), then runs each stage as a worker
would (seal, anchor, deliver, verify, and the webhook POSTs to a receiver on 127.0.0.1), each
under cProfile. Printed per stage: CPU milliseconds per object and the top functions by their
own time. Uses its own database and anvil, like bench/pipeline.py.

    .venv/bin/python bench/profile_stages.py [--publications 200] [--objects-per-publication 1]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import (  # noqa: E402
    ANVIL,
    ANVIL_KEY,
    Receiver,
    bundle,
    free_port,
    rpc,
    wait_until,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publications", type=int, default=200)
    parser.add_argument("--objects-per-publication", type=int, default=1)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--sort", default="tottime", help="pstats sort key, e.g. cumulative")
    parser.add_argument("--only", help="profile only stages whose name contains this")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_profile"
    )
    args = parser.parse_args()

    database = args.database_url.rsplit("/", 1)[1]
    admin_url = args.database_url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{database}"'], check=True)
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{database}"'], check=True)
    port = free_port()
    anvil = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL
    )
    os.environ.update(
        DATABASE_URL=args.database_url,
        LEDGER_RPC_URL=f"http://127.0.0.1:{port}",
        LEDGER_SENDER_KEY=ANVIL_KEY,
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        DEBUG="false",
        PORTAL_ENV="development",
        API_RATE_LIMIT="1000000/minute",
        DJANGO_SETTINGS_MODULE="portal.settings",
        ALLOWED_HOSTS="testserver",
    )
    try:
        wait_until(lambda: rpc(os.environ["LEDGER_RPC_URL"], "eth_chainId"), "anvil")
        return profile(args)
    finally:
        anvil.terminate()


def profile(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from ledger import services as ledger_services
    from portal.models import Role, TokenScope
    from portal.services import create_api_token, create_member, create_organisation
    from sharing.models import WebhookMessage
    from sharing.services import pipeline, webhooks

    call_command("migrate", verbosity=0)
    call_command("deploy_anchor")
    organisations = []
    for n in range(2):
        organisation = create_organisation(name=f"Profiled organisation {n}")
        admin = create_member(
            organisation=organisation, email=f"a{n}@p.example", role=Role.ORG_ADMIN, password=None
        )
        publisher = create_member(
            organisation=organisation, email=f"p{n}@p.example", role=Role.PUBLISHER, password=None
        )
        token = create_api_token(
            user=publisher, name="p", scope=TokenScope.PUBLISH, dangerously_skip_second_factor=True
        )[1]
        organisations.append((admin, token))
    receiver = Receiver()
    for admin, _ in organisations:
        webhooks.register_endpoint(acting_user=admin, url=receiver.url)

    client = Client()
    bundles = [bundle(args.objects_per_publication) for _ in range(args.publications)]
    objects = args.publications * args.objects_per_publication

    def publish_all() -> None:
        for index, body in enumerate(bundles):
            token = organisations[index % 2][1]
            response = client.post(
                "/api/publications/",
                {"bundle": body, "distribution": "community", "tlp": "green"},
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 202, response.content

    def send_all() -> None:
        for message_id in WebhookMessage.objects.values_list("id", flat=True):
            webhooks.send_message(message_id=message_id)

    stages = [
        ("publish (web request)", publish_all),
        ("seal", lambda: drain(pipeline.seal_received)),
        ("anchor", ledger_services.anchor_pending),
        ("deliver", lambda: drain(lambda: pipeline.deliver_anchored()[0])),
        ("verify", lambda: drain(pipeline.verify_pending)),
        ("webhook POSTs", send_all),
    ]
    print(f"# {args.publications} publications x {args.objects_per_publication} objects")
    for name, stage in stages:
        if args.only and args.only not in name:
            stage()
            continue
        profiler = cProfile.Profile(time.process_time)
        started = time.process_time()
        profiler.runcall(stage)
        cpu = time.process_time() - started
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(f"\n## {name}: {cpu * 1000 / objects:.2f} ms CPU per object")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
    return 0


def drain(stage) -> None:
    while stage():
        pass


if __name__ == "__main__":
    sys.exit(main())
