"""Browser tests drive the system chromium through pytest-playwright against `live_server`."""

import pytest
from playwright.sync_api import Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # The distribution's chromium, never a browser downloaded by `playwright install`.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Every test logs members in through the form: a cheap hasher keeps that quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(page: Page, live_server, user) -> None:
    """Log `user` in through the login form; their password is "pw-" + email (tests/conftest)."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "pw-" + user.email)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who")).to_contain_text(user.email)
