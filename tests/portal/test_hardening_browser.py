"""The Content Security Policy in a real browser: logging in, enrolling an authenticator app,
adding a passkey and logging in with it all work, and chromium reports no violation."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import _member, totp_code_for_secret

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def violations(page: Page) -> list[str]:
    """Console messages in which chromium reports a blocked script, style, image or form."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


@pytest.fixture
def virtual_authenticator(page: Page) -> None:
    """A platform authenticator with resident keys, answering every WebAuthn request."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


def test_enrolment_and_passkeys_work_under_the_policy(
    page: Page, live_server, nordgrid, settings, violations, virtual_authenticator
):
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # live_server speaks plain http
    reader = _member(nordgrid, "rosa@nordgrid.example", Role.READER)
    password = "pw-" + reader.email

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", reader.email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator("header .who")).to_contain_text(reader.email)

    # The authenticator app: right after the password login it is not asked again; then the
    # QR code (a data: image).
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.naturalWidth") > 0
    secret = page.input_value("#authenticator_secret")
    page.fill("input[name=code]", totp_code_for_secret(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#recovery_codes")).to_be_visible()

    # A passkey, created by allauth's own scripts through the virtual authenticator.
    page.goto(f"{live_server.url}/accounts/2fa/webauthn/add/")
    page.fill("input[name=name]", "Laptop")
    page.check("input[name=passwordless]")
    page.click("#mfa_webauthn_add")
    expect(page.locator(".flash")).to_contain_text("Security key added")
    assert Authenticator.objects.filter(user=reader, type=Authenticator.Type.WEBAUTHN).exists()

    # Log out and back in with the passkey alone.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.click("#passkey_login")
    expect(page.locator("header .who")).to_contain_text(reader.email)

    assert violations == []
