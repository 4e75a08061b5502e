"""Production hardening: Django's deploy checks pass, cookies carry the __Host- prefix, and
every page has a Content Security Policy that its own markup obeys (no inline script or
style)."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The test run's own switches are not a deployment's.
        if key
        not in (
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SECURE_SSL_REDIRECT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ENCRYPTION_SECRET=secrets.token_urlsafe(50),
        LEDGER_SENDER_KEY="0x" + secrets.token_hex(32),
        ALLOWED_HOSTS="portal.example.org",
        **extra,
    )
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_passes_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output
    assert "no issues" in output


def test_production_settings():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n)"
        " for n in ['SESSION_COOKIE_NAME', 'CSRF_COOKIE_NAME', 'SESSION_COOKIE_SECURE',"
        " 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT',"
        " 'X_FRAME_OPTIONS', 'SECURE_REFERRER_POLICY', 'MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN',"
        " 'MFA_REQUIRED_FOR_PRIVILEGED', 'ALLAUTH_TRUSTED_PROXY_COUNT']}))"
    )
    result = manage("shell", "-c", code, env=production_env(TRUSTED_PROXY_COUNT="2"))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_SSL_REDIRECT"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN"] is False
    assert values["MFA_REQUIRED_FOR_PRIVILEGED"] is True
    assert values["ALLAUTH_TRUSTED_PROXY_COUNT"] == 2


def test_the_production_session_cookie_is_a_host_cookie(client, bob, settings):
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.SESSION_COOKIE_SECURE = True
    client.post("/accounts/login/", {"login": bob.email, "password": "pw-" + bob.email})
    cookie = client.cookies["__Host-sessionid"]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    assert cookie["httponly"]


def parse_policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/login/",
    "/accounts/password/reset/",
    "/accounts/signup/",
    "/join/",
]
MEMBER_PAGES = [
    "/",
    "/inbox/",
    "/publish/",
    "/accounts/2fa/",
    "/accounts/sessions/",
    "/accounts/email/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ANONYMOUS_PAGES + MEMBER_PAGES)
def test_every_page_has_the_content_security_policy(client, alice, path):
    if path in MEMBER_PAGES:
        client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200, path
    assert parse_policy(response["Content-Security-Policy"]) == POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def assert_no_inline_code(page: str) -> None:
    """What the policy would block: inline script (JSON data blocks are fine), inline event
    handlers, style elements and attributes, javascript: URLs."""
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), "inline event handler"
    assert "<style" not in page
    assert not re.search(r"<[^>]+\sstyle\s*=", page), "style attribute"
    assert "javascript:" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_public_pages_have_no_inline_code(client, path):
    assert_no_inline_code(client.get(path).content.decode())


@pytest.mark.django_db
def test_second_factor_pages_have_no_inline_code(client, nordgrid, publisher):
    from allauth.account.models import EmailAddress

    from portal.models import Role
    from portal.services import create_member
    from tests.conftest import totp_code

    # The code prompt at login.
    client.post("/accounts/login/", {"login": publisher.email, "password": "pw-" + publisher.email})
    assert_no_inline_code(client.get("/accounts/2fa/authenticate/").content.decode())
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(publisher)})
    # The management pages, right after confirming the password.
    client.post("/accounts/reauthenticate/", {"password": "pw-" + publisher.email})
    for path in (
        "/accounts/2fa/",
        "/accounts/2fa/totp/deactivate/",
        "/accounts/2fa/webauthn/add/",
        "/accounts/2fa/recovery-codes/generate/",
        "/accounts/sessions/",
        "/accounts/password/change/",
        "/accounts/email/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_inline_code(response.content.decode())
    # Enrolment, for someone without a second factor yet.
    newcomer = create_member(
        organisation=nordgrid, email="nina@nordgrid.example", role=Role.READER, password="pw-n"
    )
    EmailAddress.objects.create(user=newcomer, email=newcomer.email, verified=True, primary=True)
    client.force_login(newcomer)
    client.post("/accounts/reauthenticate/", {"password": "pw-n"})
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    assert_no_inline_code(page)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"PORTAL_ENV": "prod"}, "PORTAL_ENV is 'prod'; it must be one of development, production"),
        ({"ENCRYPTION_SECRET": ""}, "ENCRYPTION_SECRET must be set, and differ from SECRET_KEY"),
        (
            {"SECRET_KEY": "same-secret-" * 5, "ENCRYPTION_SECRET": "same-secret-" * 5},
            "ENCRYPTION_SECRET must be set, and differ from SECRET_KEY",
        ),
    ],
)
def test_settings_fail_closed(extra, message):
    result = manage("check", env={**production_env(), **extra})
    assert result.returncode != 0
    assert message in result.stderr


# --- Development defaults only where the environment says development ---------------------

ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def settings_of(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    """The named settings as JSON, read by a fresh interpreter from `env` alone."""
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def unnamed_env(**extra: str) -> dict[str, str]:
    """The test run's environment without PORTAL_ENV, secrets or development switches."""
    dropped = {
        "PORTAL_ENV",
        "DEBUG",
        "SECRET_KEY",
        "ENCRYPTION_SECRET",
        "LEDGER_SENDER_KEY",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "DJANGO_SETTINGS_MODULE",
    }
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


DEFAULTED = ("LEDGER_SENDER_KEY", "WEBHOOK_ALLOW_PRIVATE_TARGETS")


def test_development_defaults_apply_when_the_environment_says_development():
    result = settings_of(
        unnamed_env(PORTAL_ENV="development"), *DEFAULTED, "SECRET_KEY", "ENCRYPTION_SECRET"
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["LEDGER_SENDER_KEY"] == ANVIL_KEY
    assert values["WEBHOOK_ALLOW_PRIVATE_TARGETS"] is True
    assert values["ENCRYPTION_SECRET"] == values["SECRET_KEY"]


def test_without_portal_env_there_are_no_development_defaults():
    env = unnamed_env(SECRET_KEY=secrets.token_urlsafe(50), ENCRYPTION_SECRET="other-" * 8)
    result = settings_of(env, *DEFAULTED)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "LEDGER_SENDER_KEY": "",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": False,
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "SECRET_KEY must be set unless PORTAL_ENV=development is set explicitly"),
        (
            {"SECRET_KEY": "development-only-secret-key-do-not-use-in-production"},
            "SECRET_KEY is the public development key",
        ),
        (
            {"SECRET_KEY": "a-secret-of-our-own-" * 3},
            "ENCRYPTION_SECRET must be set, and differ from SECRET_KEY, unless PORTAL_ENV",
        ),
        (
            {"SECRET_KEY": "same-secret-" * 5, "ENCRYPTION_SECRET": "same-secret-" * 5},
            "ENCRYPTION_SECRET must be set, and differ from SECRET_KEY, unless PORTAL_ENV",
        ),
        (
            {
                "SECRET_KEY": "a-secret-of-our-own-" * 3,
                "ENCRYPTION_SECRET": "another-secret-" * 3,
                "LEDGER_SENDER_KEY": ANVIL_KEY,
            },
            "LEDGER_SENDER_KEY is anvil's public development key",
        ),
    ],
)
def test_without_portal_env_the_settings_fail_closed(extra, message):
    result = settings_of(unnamed_env(**extra), "SECRET_KEY")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_private_webhook_targets_by_default():
    result = settings_of(production_env(), "WEBHOOK_ALLOW_PRIVATE_TARGETS")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"WEBHOOK_ALLOW_PRIVATE_TARGETS": False}
