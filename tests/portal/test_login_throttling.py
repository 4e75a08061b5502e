"""Throttling of logins that holds behind reverse proxies: wrong passwords lock an address out
(even the right password is refused then), and clients are told apart by the address the
trusted proxies saw, never by what the client wrote into X-Forwarded-For."""

import pytest
from django.contrib.auth import SESSION_KEY

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOCKED = "Too many failed login attempts"


def attempt(client, email, password, **meta):
    response = client.post(LOGIN, {"login": email, "password": password}, **meta)
    return response, SESSION_KEY in client.session


def test_after_five_wrong_passwords_the_right_one_is_refused_too(client, bob):
    for _ in range(5):
        response, ok = attempt(client, bob.email, "wrong")
        assert not ok and LOCKED not in response.content.decode()
    response, ok = attempt(client, bob.email, "pw-" + bob.email)
    assert not ok
    assert LOCKED in response.content.decode()


def test_the_lockout_is_per_account_not_for_everyone(client, bob, nordgrid):
    from portal.models import Role
    from tests.conftest import _member

    dora = _member(nordgrid, "dora@nordgrid.example", Role.READER)
    for _ in range(5):
        attempt(client, bob.email, "wrong")
    _, ok = attempt(client, dora.email, "pw-" + dora.email)
    assert ok


def test_the_lockout_ignores_the_spelling_of_the_address(client, bob):
    for _ in range(5):
        attempt(client, bob.email.upper(), "wrong")
    response, ok = attempt(client, bob.email, "pw-" + bob.email)
    assert not ok and LOCKED in response.content.decode()


def test_a_successful_login_does_not_wipe_earlier_failures(client, bob):
    for _ in range(4):
        attempt(client, bob.email, "wrong")
    _, ok = attempt(client, bob.email, "pw-" + bob.email)
    assert ok
    client.logout()
    attempt(client, bob.email, "wrong")
    response, ok = attempt(client, bob.email, "pw-" + bob.email)
    assert not ok and LOCKED in response.content.decode()


@pytest.fixture
def behind_one_proxy(settings):
    """One reverse proxy at 10.0.0.1 in front of the portal; three failures per client."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/5m/ip"}
    return {"REMOTE_ADDR": "10.0.0.1"}


def test_behind_a_proxy_clients_are_told_apart_by_forwarded_for(client, bob, behind_one_proxy):
    for _ in range(3):
        attempt(client, bob.email, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1", **behind_one_proxy)
    response, ok = attempt(
        client, bob.email, "pw-" + bob.email, HTTP_X_FORWARDED_FOR="203.0.113.1", **behind_one_proxy
    )
    assert not ok and LOCKED in response.content.decode()
    # Another client through the same proxy is not locked out by the first one.
    _, ok = attempt(
        client, bob.email, "pw-" + bob.email, HTTP_X_FORWARDED_FOR="203.0.113.2", **behind_one_proxy
    )
    assert ok


def test_behind_a_proxy_a_forged_forwarded_for_does_not_escape(client, bob, behind_one_proxy):
    # The client writes an address of its own choosing; the proxy appends the real one.
    for forged in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        attempt(
            client,
            bob.email,
            "wrong",
            HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.9",
            **behind_one_proxy,
        )
    response, ok = attempt(
        client,
        bob.email,
        "pw-" + bob.email,
        HTTP_X_FORWARDED_FOR="192.0.2.4, 203.0.113.9",
        **behind_one_proxy,
    )
    assert not ok and LOCKED in response.content.decode()


def test_without_trusted_proxies_forwarded_for_is_ignored(client, bob, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/5m/ip"}
    for forged in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        attempt(client, bob.email, "wrong", HTTP_X_FORWARDED_FOR=forged)
    response, ok = attempt(client, bob.email, "pw-" + bob.email, HTTP_X_FORWARDED_FOR="192.0.2.4")
    assert not ok and LOCKED in response.content.decode()


def test_password_reset_requests_are_limited_per_address(client, bob, mailoutbox):
    for _ in range(5):
        client.post("/accounts/password/reset/", {"email": bob.email})
    assert len(mailoutbox) == 3  # PASSWORD_RESET_RATE_LIMIT: 3 an hour per email address
