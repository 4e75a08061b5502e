"""Second factors: publishers and admins must enrol, readers may; a TOTP user is asked for a
code at login; recovery codes work once."""

from urllib.parse import quote

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError

from portal.models import Role, TokenScope, User
from portal.services import create_member
from tests.conftest import totp_code, totp_code_for_secret

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ENROL = "/accounts/2fa/totp/activate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"
REAUTHENTICATE = "/accounts/reauthenticate/"


def member_without_mfa(organisation, email: str, role: Role, **fields) -> User:
    user = create_member(organisation=organisation, email=email, role=role, password="pw-" + email)
    if fields:
        User.objects.filter(pk=user.pk).update(**fields)
        user.refresh_from_db()
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def log_in(client, user: User):
    return client.post(LOGIN, {"login": user.email, "password": "pw-" + user.email})


def current_code(secret: str) -> str:
    return totp_code_for_secret(secret)


@pytest.fixture
def newcomer(nordgrid):
    """A publisher who has not set up a second factor yet."""
    return member_without_mfa(nordgrid, "nina@nordgrid.example", Role.PUBLISHER)


# --- Enrolment is required of publishers and admins --------------------------------------


def test_after_a_password_login_enrolment_does_not_ask_for_the_password_again(
    client, newcomer, settings
):
    log_in(client, newcomer)
    assert client.get(ENROL).status_code == 200
    # Once the confirmation window has passed, allauth asks again, as it should.
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    response = client.get(ENROL)
    assert response["Location"] == f"{REAUTHENTICATE}?next={quote(ENROL, safe='')}"


def test_a_session_not_made_by_a_password_login_is_asked_for_it(client, newcomer):
    client.force_login(newcomer)
    response = client.get(ENROL)
    assert response["Location"] == f"{REAUTHENTICATE}?next={quote(ENROL, safe='')}"
    response = client.post(response["Location"], {"password": "pw-" + newcomer.email})
    assert response["Location"] == ENROL


def test_a_publisher_without_mfa_is_sent_to_enrolment_and_then_publishes(client, newcomer):
    log_in(client, newcomer)
    response = client.get("/publish/")
    assert response.status_code == 302 and response["Location"] == ENROL
    page = client.get(ENROL).content.decode()
    assert "Publishers and administrators must protect their account" in page
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code, allowed by the CSP

    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(ENROL, {"code": current_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/"  # shown once, right away
    codes_page = client.get(response["Location"]).content.decode()
    assert 'id="continue-after-enrolment" href="/publish/"' in codes_page  # back where they were
    assert Authenticator.objects.filter(user=newcomer).count() == 2  # TOTP + recovery codes
    assert client.get("/publish/").status_code == 200


def test_a_wrong_code_does_not_activate_the_authenticator(client, newcomer):
    log_in(client, newcomer)
    client.get(ENROL)
    good = current_code(client.session[SECRET_SESSION_KEY])
    wrong = "000000" if good != "000000" else "111111"
    response = client.post(ENROL, {"code": wrong})
    assert response.status_code == 200 and "Incorrect code" in response.content.decode()
    assert not Authenticator.objects.filter(user=newcomer).exists()


def test_an_invited_publisher_enrols_right_after_accepting(client, alice):
    from portal.services import invite_member

    _, token = invite_member(acting_user=alice, email="ines@nordgrid.example", role=Role.PUBLISHER)
    password = "a-Long-passphrase-42"
    response = client.post(
        f"/invitations/{token}/",
        {"full_name": "Ines", "password": password, "password_again": password},
    )
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == ENROL
    invited = User.objects.get(email="ines@nordgrid.example")
    assert EmailAddress.objects.get(user=invited).verified  # so allauth lets them log in
    client.post(f"{REAUTHENTICATE}?next={quote(ENROL, safe='')}", {"password": password})
    client.get(ENROL)
    response = client.post(ENROL, {"code": current_code(client.session[SECRET_SESSION_KEY])})
    assert response.status_code == 302
    assert client.get("/publish/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/inbox/", "/organisation/members/", "/tokens/", "/audit/"])
def test_every_portal_page_sends_an_org_admin_without_mfa_to_enrolment(client, nordgrid, path):
    admin = member_without_mfa(nordgrid, "olga@nordgrid.example", Role.ORG_ADMIN)
    client.force_login(admin)
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == ENROL


def test_a_platform_admin_without_mfa_is_sent_to_enrolment_even_from_the_admin(client, db):
    staff = User.objects.create_superuser("root@portal.example", "pw-root")
    client.force_login(staff)
    for path in ("/staff/join-requests/", "/admin/", "/admin/portal/user/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == ENROL, path


def test_a_reader_is_not_forced(client, nordgrid):
    reader = member_without_mfa(nordgrid, "rita@nordgrid.example", Role.READER)
    client.force_login(reader)
    assert client.get("/inbox/").status_code == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/accounts/2fa/"),
        ("get", ENROL),
        ("get", "/accounts/2fa/webauthn/add/"),
        ("get", "/accounts/sessions/"),
        ("get", "/accounts/password/change/"),
        ("get", "/join/"),
        ("get", "/invitations/no-such-token/"),
        ("get", "/api/health/"),
        ("get", "/static/css/portal.css"),
        ("post", "/accounts/logout/"),
    ],
)
def test_without_mfa_the_account_public_and_api_pages_stay_reachable(
    client, newcomer, method, path
):
    client.force_login(newcomer)
    response = getattr(client, method)(path)
    assert response.status_code in (200, 302, 404)
    if response.status_code == 302:
        assert response["Location"] != ENROL


def test_the_session_api_follows_the_same_rule_as_the_pages(client, newcomer, trust_group):
    """A publisher without a second factor cannot publish with the session cookie alone."""
    from sharing.models import Publication

    client.force_login(newcomer)
    body = {"bundle": {"type": "bundle"}, "distribution": "organisation", "tlp": "green"}
    response = client.post("/api/publications/", body, content_type="application/json")
    assert response.status_code == 403
    assert "second factor" in response.json()["errors"][0]
    assert client.get("/api/inbox/").status_code == 403
    assert client.post("/api/webhooks/", {"url": "https://x.example/h"}).status_code == 403
    assert not Publication.objects.exists()


def test_without_a_second_factor_only_read_tokens_can_be_made(client, newcomer, token_for):
    client.force_login(newcomer)
    with pytest.raises(ValidationError, match="second factor"):
        token_for(newcomer, scope=TokenScope.PUBLISH)
    response = client.get("/api/inbox/", headers=token_for(newcomer, scope=TokenScope.READ))
    assert response.status_code == 200


def test_the_requirement_can_be_switched_off(client, newcomer, settings):
    settings.MFA_REQUIRED_FOR_PRIVILEGED = False
    client.force_login(newcomer)
    assert client.get("/publish/").status_code == 200


def test_a_passkey_alone_satisfies_the_requirement(client, newcomer):
    Authenticator.objects.create(user=newcomer, type=Authenticator.Type.WEBAUTHN, data={})
    client.force_login(newcomer)
    assert client.get("/publish/").status_code == 200


# --- Logging in with a second factor ----------------------------------------------------


def test_login_of_a_totp_user_asks_for_the_code(client, publisher):
    response = log_in(client, publisher)
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    assert SESSION_KEY not in client.session  # the password alone does not log in
    assert client.get("/inbox/")["Location"].startswith(LOGIN)
    response = client.post(AUTHENTICATE, {"code": totp_code(publisher)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(publisher.pk)


def test_a_wrong_code_is_refused(client, publisher):
    log_in(client, publisher)
    good = totp_code(publisher)
    response = client.post(AUTHENTICATE, {"code": "000000" if good != "000000" else "111111"})
    assert response.status_code == 200 and "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_code_cannot_be_replayed(client, publisher):
    code = totp_code(publisher)
    log_in(client, publisher)
    client.post(AUTHENTICATE, {"code": code})
    client.post("/accounts/logout/")
    log_in(client, publisher)
    response = client.post(AUTHENTICATE, {"code": code})
    assert "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_wrong_codes_count_towards_the_lockout(client, publisher):
    log_in(client, publisher)
    good = totp_code(publisher)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        client.post(AUTHENTICATE, {"code": wrong})
    response = client.post(AUTHENTICATE, {"code": good})
    assert SESSION_KEY not in client.session
    assert "Too many failed login attempts" in response.content.decode()


def test_recovery_codes_work_once(client, publisher):
    code = RecoveryCodes.activate(publisher).generate_codes()[0]
    log_in(client, publisher)
    response = client.post(AUTHENTICATE, {"code": code})
    assert response["Location"] == "/" and client.session[SESSION_KEY] == str(publisher.pk)
    client.post("/accounts/logout/")
    log_in(client, publisher)
    response = client.post(AUTHENTICATE, {"code": code})
    assert "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_reader_without_mfa_logs_in_with_the_password_alone(client, bob):
    response = log_in(client, bob)
    assert response["Location"] == "/" and client.session[SESSION_KEY] == str(bob.pk)


def test_the_code_prompt_says_log_in_and_offers_a_security_key_only_to_its_owners(
    client, publisher
):
    log_in(client, publisher)
    page = client.get(AUTHENTICATE).content.decode()
    assert "Log in" in page and "Sign In" not in page
    assert "Use a security key" not in page


def test_a_security_key_is_recognised(publisher):
    from portal.templatetags.portal_tags import has_security_key

    assert not has_security_key(publisher)
    Authenticator.objects.create(user=publisher, type=Authenticator.Type.WEBAUTHN, data={})
    assert has_security_key(publisher)
