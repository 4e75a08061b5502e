"""The API keeps the contract its OpenAPI schema states: a bounded schemathesis run (every
check, a fixed seed) against the portal served by gunicorn, as deployed, once with a
publisher's token and once with their session cookie, finds no server error, no undocumented
status and no response that breaks the schema.

Not Django's live test server: it answers a request line without an HTTP version as HTTP/0.9
(an error page with no status line), so bytes a malformed case leaves on a kept-alive
connection could garble the next response, a failure of the test server, not of the portal."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from portal.models import TokenScope
from portal.services import create_api_token
from tests.web_server import start_gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEED = 20251130
# The token run takes every phase (coverage: each parameter's boundaries and wrong types;
# fuzzing: random cases); the session run, which repeats the same operations with other
# credentials, fuzzes only. About 500 cases in all, under a minute.
TOKEN_RUN = ["--phases", "coverage,fuzzing", "--max-examples", "3"]
SESSION_RUN = ["--phases", "fuzzing", "--max-examples", "8"]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def world(chain, nordgrid, publisher, alice, trust_group):
    from sharing.models import Publication, WebhookEndpoint

    Publication.objects.create(
        organisation=nordgrid, author=publisher, title="t", distribution="organisation", tlp="amber"
    )
    WebhookEndpoint.objects.create(
        organisation=nordgrid, url="https://hooks.example/x", encrypted_secret="v1:x"
    )
    _, raw = create_api_token(user=publisher, name="schemathesis", scope=TokenScope.PUBLISH)
    return {"token": raw}


@pytest.fixture
def web(world, anvil, celery_queue, tmp_path):
    """The portal under gunicorn on the test database, reading the test's chain."""
    with start_gunicorn(
        log=tmp_path / "web.log", queue=celery_queue, LEDGER_RPC_URL=anvil.url
    ) as server:
        yield server


def run_schemathesis(server, tmp_path: Path, header: str, name: str, *extra: str) -> dict:
    schema = requests.get(
        f"{server.url}/api/schema/?format=json",
        headers=dict([header.split(": ", 1)]),
        timeout=30,
    )
    assert schema.status_code == 200, schema.text[:300]
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(schema.text)
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            str(schema_path),
            "--url",
            server.url,
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--no-shrink",
            "--header",
            header,
            "--output-truncate",
            "false",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        # schemathesis keeps a cache of past failures in its working directory; a fresh one
        # per run keeps the run the same every time (and out of the repository).
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = int(re.search(r"(\d+) generated", result.stdout).group(1))
    print(f"schemathesis ({name}): {generated} cases")
    return generated


def test_the_api_keeps_its_schema_with_a_token(web, world, tmp_path):
    cases = run_schemathesis(
        web, tmp_path, f"Authorization: Bearer {world['token']}", "token", *TOKEN_RUN
    )
    assert cases >= 100  # the run really exercised the API


def test_the_api_keeps_its_schema_with_a_session(web, world, publisher, tmp_path, client):
    client.force_login(publisher)
    cookie = client.cookies["sessionid"].value
    # The cookie stays valid while schemathesis garbles the Authorization header on purpose
    # (the ignored_auth check), so those requests are rightly authenticated: that check runs
    # with the token above.
    cases = run_schemathesis(
        web,
        tmp_path,
        f"Cookie: sessionid={cookie}",
        "session",
        "--exclude-checks",
        "ignored_auth",
        *SESSION_RUN,
    )
    assert cases >= 50
