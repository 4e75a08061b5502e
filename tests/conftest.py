"""Shared fixtures: a real anvil chain, a real Celery worker, users of three organisations.

The three-users habit: alice (admin of Nordgrid), bob (reader at Nordgrid), charlie (admin of
another organisation, outside every trust group). Publishers get their own fixture.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.anvil import ANVIL_DEV_KEY, start_anvil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def anvil():
    node = start_anvil()
    yield node
    node.stop()


@pytest.fixture
def chain(anvil, settings, db):
    """A fresh anchor contract on the session's anvil, recorded as the portal's deployment.

    Fresh per test because the database (and so the log) is emptied between tests while the
    chain keeps every checkpoint.
    """
    from ledger.services import deploy_anchor_contract_if_needed

    settings.LEDGER_RPC_URL = anvil.url
    settings.LEDGER_CONTRACT_ADDRESS = ""
    settings.LEDGER_SENDER_KEY = ANVIL_DEV_KEY
    deployment, _ = deploy_anchor_contract_if_needed()
    return deployment


@pytest.fixture(scope="session")
def celery_queue():
    return f"tests-{uuid.uuid4().hex[:8]}"


def start_worker(
    *,
    queue: str,
    rpc_url: str,
    log: Path,
    beat: bool = False,
    serves: str = "all",
    concurrency: int = 2,
    **env: str,
):
    """Start a real Celery worker process on the test database and wait until it is ready.

    `serves`: "pipeline" (the queue itself), "webhooks" (its webhook queue,
    portal.celery.webhook_queue) or "all" (both, in one pool).
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the end-to-end tests need PostgreSQL: set DATABASE_URL=postgres://...")
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_SENDER_KEY": ANVIL_DEV_KEY,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_RETRY_DELAYS": "1,1,2",
        "WEBHOOK_RETRY_JITTER": "0",
        "CELERY_QUEUE": queue,
        **env,
    }
    environment.pop("LEDGER_CONTRACT_ADDRESS", None)
    queues = {
        "pipeline": [queue],
        "webhooks": [f"{queue}.webhooks"],
        "all": [queue, f"{queue}.webhooks"],
    }[serves]
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(queues)]
    command += ["-n", f"{serves}-{uuid.uuid4().hex[:6]}@%h"]
    command += ["--concurrency", str(concurrency)]
    command += ["-l", "INFO", "--without-mingle", "--without-gossip"]
    if beat:
        command += ["--beat", "--schedule", str(log.with_suffix(".beat"))]
    with open(log, "ab") as out:
        # Its own session: a test can kill the worker and its pool children together.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while log.read_bytes().count(b"ready.") < _ready_count.get(log, 0) + 1:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    _ready_count[log] = _ready_count.get(log, 0) + 1
    return process


_ready_count: dict[Path, int] = {}


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on 127.0.0.1 for the whole session (tests.smtp_server)."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


def smtp_environment(server) -> dict[str, str]:
    """The settings that make the portal send its mail to `server`, as environment variables."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port),
        "EMAIL_USE_TLS": "false",
        "EMAIL_TIMEOUT": "5",
    }


@pytest.fixture
def smtp(smtp_server, settings):
    """The session's SMTP server, emptied, with this process's mail going to it."""
    smtp_server.clear()
    for name, value in smtp_environment(smtp_server).items():
        setattr(settings, name, int(value) if name in ("EMAIL_PORT", "EMAIL_TIMEOUT") else value)
    settings.EMAIL_USE_TLS = False
    yield smtp_server
    smtp_server.clear()


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup, django_db_blocker, anvil, celery_queue, smtp_server, tmp_path_factory
):
    """Real Celery workers on the test database, their own queue, and the anvil node: one
    pool for the pipeline stages and one for webhook sends (its process is `.webhooks` of the
    yielded one), as scripts/run.sh starts them. Their mail goes to the session's SMTP server."""
    from portal.celery import app

    logs = tmp_path_factory.mktemp("worker")
    app.conf.task_default_queue = celery_queue
    process = start_worker(
        queue=celery_queue,
        rpc_url=anvil.url,
        log=logs / "worker.log",
        serves="pipeline",
        **smtp_environment(smtp_server),
    )
    process.webhooks = start_worker(
        queue=celery_queue,
        rpc_url=anvil.url,
        log=logs / "webhooks.log",
        serves="webhooks",
        concurrency=3,
        # Long enough that a receiver which never answers is still hanging while a test
        # watches another organisation's delivery go through (test_webhook_isolation).
        WEBHOOK_TIMEOUT_SECONDS="60",
        **smtp_environment(smtp_server),
    )
    yield process
    stop_worker(process.webhooks)
    stop_worker(process)
    if os.environ.get("SHOW_WORKER_LOG"):
        print((logs / "worker.log").read_text(), (logs / "webhooks.log").read_text())


@pytest.fixture
def make_organisation(db):
    from portal import services

    def make(name: str, **fields):
        return services.create_organisation(name=name, **fields)

    return make


@pytest.fixture
def nordgrid(make_organisation):
    return make_organisation("Nordgrid Transmission", sector="transmission", country="DE")


@pytest.fixture
def alpine(make_organisation):
    return make_organisation("Alpine Energy CSIRT", sector="csirt", country="AT")


@pytest.fixture
def outsider(make_organisation):
    return make_organisation("Elsewhere Power", sector="generation", country="FR")


@pytest.fixture
def trust_group(db, nordgrid, alpine):
    from portal.models import TrustGroup
    from portal.services import add_to_trust_group

    group = TrustGroup.objects.create(name="Grid ISAC")
    add_to_trust_group(group=group, organisation=nordgrid)
    add_to_trust_group(group=group, organisation=alpine)
    return group


def _member(organisation, email, role):
    """A member whose password is "pw-" + email, with a verified address; publishers and
    organisation admins also have an authenticator app (see `totp_code`), as the portal
    requires of them."""
    from allauth.account.models import EmailAddress

    from portal.models import Role
    from portal.services import create_member

    user = create_member(organisation=organisation, email=email, role=role, password="pw-" + email)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    if role >= Role.PUBLISHER:
        enrol_totp(user)
    return user


def enrol_totp(user) -> str:
    """Give `user` an authenticator app (allauth TOTP) with a fresh secret; return the secret."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


class TotpClock:
    """The clock allauth's TOTP check reads, frozen for each test (see `totp_clock`).

    Frozen one second into a 30 s period, a code computed by `totp_code` is the one the portal
    expects, whatever the wall clock does meanwhile; `advance` moves to a later period.
    """

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, periods: int = 1) -> None:
        self.now += periods * 30


def uses_django(request) -> bool:
    """Whether a test touches Django's database, cache or pages (pure tests do not)."""
    django_fixtures = {"db", "transactional_db", "live_server", "client", "django_db_setup"}
    return bool(
        request.node.get_closest_marker("django_db") or django_fixtures & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def totp_clock(request, monkeypatch):
    """Freeze the time allauth checks TOTP codes against; `totp_code` reads the same clock."""
    if not uses_django(request):
        return None
    from allauth.mfa.totp.internal import auth

    clock = TotpClock((int(time.time()) // 30) * 30 + 1.0)
    monkeypatch.setattr(auth, "time", clock)
    return clock


def totp_code(user, *, periods_ahead: int = 0) -> str:
    """The code of `user`'s authenticator app at the (frozen) TOTP clock, as their phone would
    show it. allauth accepts each code once: a test entering two codes for one user advances
    the clock (`totp_clock.advance()`) between them."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return totp_code_for_secret(decrypt(authenticator.data["secret"]), periods_ahead=periods_ahead)


def totp_code_for_secret(secret: str, *, periods_ahead: int = 0) -> str:
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal import auth

    counter = int(auth.time.time()) // app_settings.TOTP_PERIOD + periods_ahead
    return auth.format_hotp_value(auth.hotp_value(secret, counter))


@pytest.fixture(autouse=True)
def fresh_cache(request):
    """Every Django test starts with an empty Django cache: allauth's rate-limit counters and
    used TOTP codes, the join-request throttle and API throttles live in Redis, which outlives
    each test's database. Only the cache's keys go; the Celery broker's, in the same Redis
    database, stay. Pure tests (hashing, Merkle trees, the verifier) need no Redis."""
    if not uses_django(request):
        return
    import redis
    from django.conf import settings
    from django.core.cache import cache

    client = redis.from_url(settings.CACHES["default"]["LOCATION"])
    keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def alice(nordgrid):
    from portal.models import Role

    return _member(nordgrid, "alice@nordgrid.example", Role.ORG_ADMIN)


@pytest.fixture
def publisher(nordgrid):
    from portal.models import Role

    return _member(nordgrid, "pat@nordgrid.example", Role.PUBLISHER)


@pytest.fixture
def bob(nordgrid):
    from portal.models import Role

    return _member(nordgrid, "bob@nordgrid.example", Role.READER)


@pytest.fixture
def alpine_admin(alpine):
    from portal.models import Role

    return _member(alpine, "ada@alpine.example", Role.ORG_ADMIN)


@pytest.fixture
def charlie(outsider):
    from portal.models import Role

    return _member(outsider, "charlie@elsewhere.example", Role.ORG_ADMIN)


@pytest.fixture
def staff(db):
    """A platform admin (no organisation), password "pw-ops", with a verified address and an
    authenticator app."""
    from allauth.account.models import EmailAddress

    from portal.models import User

    user = User.objects.create_user("ops@portal.example", "pw-ops", is_staff=True)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    enrol_totp(user)
    return user


@pytest.fixture
def token_for(db):
    """Authorization headers with a new token of `user`: by default the widest scope their
    role allows."""
    from portal.permissions import max_token_scope
    from portal.services import create_api_token

    def make(user, scope=None) -> dict[str, str]:
        scope = scope or max_token_scope(user)
        _, raw = create_api_token(user=user, name="test", scope=scope)
        return {"Authorization": f"Bearer {raw}"}

    return make
