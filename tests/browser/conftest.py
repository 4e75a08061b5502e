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


def login(page: Page, live_server, user, password: str | None = None) -> None:
    """Log `user` in through the login form with `password` (by default "pw-" + email, see
    tests/conftest), and with the authenticator app's code when the portal asks for it."""
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", password or "pw-" + user.email)
    page.press("input[name=password]", "Enter")
    code = page.locator("input[name=code]")
    who = page.locator("header .who")
    expect(code.or_(who)).to_be_visible()
    if code.is_visible():
        from tests.conftest import totp_code

        code.fill(totp_code(user))
        code.press("Enter")
    expect(who).to_contain_text(user.email)
