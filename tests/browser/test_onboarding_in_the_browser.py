"""An organisation joins the community in a real chromium, against the live server.

The contact asks to join; a platform admin approves; the contact accepts the invitation and,
as the organisation's first admin, is made to set up an authenticator app; they invite a
publisher, who enrols too, logs in again with their second factor and reaches the Publish
page. Someone of another organisation sees none of it.
"""

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from playwright.sync_api import Page, expect

from portal.models import Invitation, JoinRequest, Organisation, RequestState, Role, User
from tests.conftest import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORGANISATION = "Baltic Wind Generation"
CONTACT = "ieva@balticwind.example"
CONTACT_PASSWORD = "Offshore-Turbine-Array-47"
PUBLISHER = "pub@balticwind.example"
PUBLISHER_PASSWORD = "Nacelle-Yaw-Bearing-82"
READER = "reader@balticwind.example"
SECOND_FACTOR_WARNING = "must protect their account with a second factor"


def totp_time() -> float:
    """The time the portal checks codes against: frozen per test (tests.conftest.totp_clock)."""
    from allauth.mfa.totp.internal import auth

    return auth.time.time()


def authenticator_code(secret: str, *, periods_ahead: int = 0) -> str:
    """RFC 6238 TOTP as a phone computes it: HMAC-SHA1, 30 s period, 6 digits."""
    key = base64.b32decode(secret.replace(" ", "").upper())
    counter = int(totp_time()) // 30 + periods_ahead
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def log_in(page: Page, live_server, email: str, password: str, code) -> None:
    """Log in through allauth's form; `code()` gives the authenticator code, which the
    portal must ask for (everyone logging in here has an authenticator app)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.fill("input[name=code]", code())
    page.locator("input[name=code]").press("Enter")
    expect(page.locator("header .who")).to_contain_text(email)


def invitation_path(to: str) -> str:
    """The /invitations/<token>/ path of the invitation mailed to `to` (sent on commit)."""
    deadline = time.monotonic() + 10
    while True:
        mails = [m for m in mail.outbox if m.to == [to] and "/invitations/" in m.body]
        if mails:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no invitation for {to}: {[(m.to, m.subject) for m in mail.outbox]}")
        time.sleep(0.1)
    assert len(mails) == 1
    match = re.search(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)", mails[0].body)
    assert match, mails[0].body
    return match.group(1)


def accept_invitation(page: Page, live_server, path: str, *, name: str, password: str) -> None:
    page.goto(f"{live_server.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Join {ORGANISATION}")
    page.fill("input[name=full_name]", name)
    page.fill("input[name=password]", password)
    page.fill("input[name=password_again]", password)
    page.get_by_role("button", name="Create my account").click()


def enrol_authenticator_app(page: Page, password: str) -> str:
    """Follow the forced enrolment and activate the authenticator app with the secret shown
    on the page; return that secret. The password was just chosen, so it is not asked again."""
    secret_field = page.locator("#authenticator_secret")
    expect(secret_field).to_be_visible()
    expect(page.locator(".flash", has_text=SECOND_FACTOR_WARNING)).to_be_visible()
    expect(page.locator("form[action='/accounts/reauthenticate/']")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    secret = secret_field.input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    page.fill("input[name=code]", authenticator_code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page.locator(".flash", has_text="Authenticator app activated.")).to_be_visible()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    codes = page.locator("#recovery_codes").input_value().split()
    assert len(codes) == 10 and all(re.fullmatch(r"\d{8}", c) for c in codes), codes
    return secret


def test_an_organisation_joins_and_its_publisher_reaches_the_publishing_page(
    page, new_context, live_server, settings, staff, charlie, totp_clock
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []

    # 1. The contact asks to join.
    page.goto(f"{live_server.url}/join/")
    page.fill("input[name=organisation_name]", ORGANISATION)
    page.select_option("select[name=sector]", "generation")
    page.fill("input[name=country]", "LT")
    page.fill("input[name=contact_name]", "Ieva Kazlauskaitė")
    page.fill("input[name=contact_email]", CONTACT)
    page.fill(
        "textarea[name=justification]",
        "We run 1.2 GW of offshore wind in the Baltic and want to share phishing indicators.",
    )
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request received")
    expect(page.locator("main")).to_contain_text("We will contact you")
    join_request = JoinRequest.objects.get()
    assert join_request.state == RequestState.PENDING

    # 2. A platform admin approves it.
    ops = new_context().new_page()
    log_in(ops, live_server, staff.email, "pw-ops", lambda: totp_code(staff))
    ops.get_by_role("link", name="Join requests", exact=True).click()
    ops.get_by_role("link", name=ORGANISATION).click()
    expect(ops).to_have_url(f"{live_server.url}/staff/join-requests/{join_request.id}/")
    expect(ops.locator("dl")).to_contain_text("Ieva Kazlauskaitė")
    ops.get_by_role("button", name=f"Approve and invite {CONTACT}").click()
    expect(ops).to_have_url(f"{live_server.url}/staff/join-requests/")
    expect(ops.locator(".flash")).to_contain_text(
        f"{ORGANISATION} created; {CONTACT} was invited as its first organisation admin."
    )
    organisation = Organisation.objects.get(name=ORGANISATION)
    assert (organisation.sector, organisation.country) == ("generation", "LT")

    # 3. The contact accepts the invitation and is walked to authenticator enrolment.
    contact = new_context().new_page()
    accept_invitation(
        contact,
        live_server,
        invitation_path(CONTACT),
        name="Ieva Kazlauskaitė",
        password=CONTACT_PASSWORD,
    )
    enrol_authenticator_app(contact, CONTACT_PASSWORD)
    contact.goto(f"{live_server.url}/")
    expect(contact.get_by_role("heading", level=1)).to_have_text("Welcome, Ieva Kazlauskaitė")
    expect(contact.locator("header .who")).to_contain_text(
        f"{CONTACT} · {ORGANISATION} · Organisation admin"
    )
    admin = User.objects.get(email=CONTACT)
    assert (admin.organisation, admin.role) == (organisation, Role.ORG_ADMIN)
    assert Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists()

    # 4. The new admin invites a publisher (and a reader, left open for step 5).
    contact.get_by_role("link", name="Members", exact=True).click()
    expect(contact.get_by_role("heading", level=1)).to_have_text(f"Members of {ORGANISATION}")
    for email, role in ((PUBLISHER, "Publisher"), (READER, "Reader")):
        contact.fill("#id_email", email)
        contact.select_option("#id_role", label=role)
        contact.get_by_role("button", name="Send the invitation").click()
        expect(contact.locator(".flash")).to_have_text(
            f"{email} will get an email about joining {ORGANISATION}."
        )
    open_invitations = contact.locator("main table").nth(1)
    expect(open_invitations.locator("tbody tr", has_text=PUBLISHER)).to_contain_text("Publisher")
    expect(open_invitations.locator("tbody tr", has_text=READER)).to_contain_text("Reader")

    publisher = new_context().new_page()
    accept_invitation(
        publisher,
        live_server,
        invitation_path(PUBLISHER),
        name="Pau Lukas",
        password=PUBLISHER_PASSWORD,
    )
    secret = enrol_authenticator_app(publisher, PUBLISHER_PASSWORD)
    publisher.goto(f"{live_server.url}/")
    expect(publisher.locator("header .who")).to_contain_text(
        f"{PUBLISHER} · {ORGANISATION} · Publisher"
    )
    member = User.objects.get(email=PUBLISHER)
    assert (member.organisation, member.role) == (organisation, Role.PUBLISHER)
    publisher.get_by_role("button", name="Log out").click()
    expect(publisher.get_by_role("link", name="Log in")).to_be_visible()

    log_in(
        publisher,
        live_server,
        PUBLISHER,
        PUBLISHER_PASSWORD,
        # A code is accepted once: the publisher's second code comes from the next period.
        lambda: (totp_clock.advance(), authenticator_code(secret))[1],
    )
    publisher.get_by_role("link", name="Publish", exact=True).click()
    expect(publisher).to_have_url(f"{live_server.url}/publish/")
    expect(publisher.get_by_role("heading", name="Publish a STIX 2.1 bundle")).to_be_visible()

    # 5. Someone of another organisation sees none of it.
    reader_invitation = Invitation.objects.get(email=READER)
    outsider = new_context().new_page()
    log_in(
        outsider,
        live_server,
        charlie.email,
        "pw-" + charlie.email,
        lambda: totp_code(charlie),
    )
    response = outsider.goto(f"{live_server.url}/staff/join-requests/{join_request.id}/")
    assert response.status == 404
    expect(outsider.locator("body")).not_to_contain_text(ORGANISATION)
    response = outsider.goto(f"{live_server.url}/staff/join-requests/")
    assert response.status == 403
    expect(outsider.locator("body")).not_to_contain_text(ORGANISATION)

    response = outsider.goto(f"{live_server.url}/organisation/members/")
    assert response.status == 200
    expect(outsider.get_by_role("heading", level=1)).to_have_text(
        f"Members of {charlie.organisation.name}"
    )
    expect(outsider.locator("main")).to_contain_text(charlie.email)
    expect(outsider.locator("main")).not_to_contain_text("balticwind")

    token = outsider.locator("header input[name=csrfmiddlewaretoken]").input_value()
    response = outsider.request.post(
        f"{live_server.url}/organisation/invitations/{reader_invitation.id}/revoke/",
        form={"csrfmiddlewaretoken": token},
        max_redirects=0,
    )
    assert response.status == 404
    reader_invitation.refresh_from_db()
    assert reader_invitation.revoked_at is None
    admin_member = outsider.request.post(
        f"{live_server.url}/organisation/members/{admin.id}/active/",
        form={"csrfmiddlewaretoken": token, "active": "0"},
        max_redirects=0,
    )
    assert admin_member.status == 404
    admin.refresh_from_db()
    assert admin.is_active
