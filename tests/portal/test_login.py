"""Logging in (django-allauth): email and password, verified addresses, no sign-up, password
reset by email, "remember me" off by default, logout by POST, the admin's login."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from portal.models import Role, User
from portal.services import create_member

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def log_in(client, email, password, **meta):
    """POST the login form; `meta` are request headers such as REMOTE_ADDR."""
    return client.post(LOGIN, {"login": email, "password": password}, **meta)


def logged_in_as(client) -> User | None:
    user_id = client.session.get(SESSION_KEY)
    return User.objects.get(pk=user_id) if user_id else None


def test_a_member_logs_in_with_email_and_password(client, bob):
    response = log_in(client, bob.email, "pw-" + bob.email)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert logged_in_as(client) == bob


def test_the_email_is_case_insensitive(client, bob):
    log_in(client, bob.email.upper(), "pw-" + bob.email)
    assert logged_in_as(client) == bob


def test_a_wrong_password_is_refused(client, bob):
    response = log_in(client, bob.email, "not-it")
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert logged_in_as(client) is None


def test_the_login_page_is_allauths_also_at_the_old_address(client):
    for url in (LOGIN, "/login/", reverse("login")):
        page = client.get(url).content.decode()
        assert f'action="{LOGIN}"' in page
        assert 'name="login"' in page and 'name="password"' in page


def test_login_required_pages_send_visitors_to_allauths_login(client):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/inbox/"


def test_after_login_the_visitor_lands_where_they_were_going(client, bob):
    response = client.post(
        LOGIN, {"login": bob.email, "password": "pw-" + bob.email, "next": "/inbox/"}
    )
    assert response["Location"] == "/inbox/"


def test_an_unverified_address_cannot_log_in(client, nordgrid, mailoutbox):
    user = create_member(
        organisation=nordgrid, email="new@nordgrid.example", role=Role.READER, password="pw-new"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    response = log_in(client, user.email, "pw-new")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert logged_in_as(client) is None
    # A verification link is mailed; following it verifies the address and login works.
    assert [mail.to for mail in mailoutbox] == [[user.email]]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mailoutbox[0].body)[1]
    client.post(link)
    assert EmailAddress.objects.get(user=user).verified
    log_in(client, user.email, "pw-new")
    assert logged_in_as(client) == user


def test_an_account_without_any_address_row_is_asked_to_verify_first(client, nordgrid):
    # Accounts made with `createsuperuser` or before allauth have no EmailAddress row.
    user = User.objects.create_superuser("root@portal.example", "pw-root")
    response = log_in(client, user.email, "pw-root")
    assert response["Location"] == reverse("account_email_verification_sent")
    assert logged_in_as(client) is None


def test_there_is_no_sign_up(client):
    page = client.get("/accounts/signup/")
    assert "invitation" in page.content.decode()
    assert 'name="password1"' not in page.content.decode()
    client.post(
        "/accounts/signup/",
        {"email": "me@x.example", "password1": "Str0ng-pass!x", "password2": "Str0ng-pass!x"},
    )
    assert not User.objects.filter(email="me@x.example").exists()


def test_the_login_page_offers_no_sign_up_link(client):
    assert "/accounts/signup/" not in client.get(LOGIN).content.decode()


def test_a_password_reset_email_lets_the_member_choose_a_new_password(client, bob, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": bob.email})
    assert response.status_code == 302
    assert [mail.to for mail in mailoutbox] == [[bob.email]]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mailoutbox[0].body)[1]
    form_url = client.get(link)["Location"]  # the key moves into the session
    response = client.post(
        form_url, {"password1": "a-New-passphrase-42", "password2": "a-New-passphrase-42"}
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("a-New-passphrase-42")
    log_in(client, bob.email, "a-New-passphrase-42")
    assert logged_in_as(client) == bob


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@x.example"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert mailoutbox == []


def test_remember_me_is_off_by_default(client, bob):
    page = client.get(LOGIN).content.decode()
    assert re.search(r'<input type="checkbox" name="remember"[^>]*>', page)
    assert "checked" not in re.search(r'<input type="checkbox" name="remember"[^>]*>', page)[0]
    log_in(client, bob.email, "pw-" + bob.email)
    assert client.session.get_expire_at_browser_close()


def test_remember_me_keeps_the_session(client, bob):
    client.post(LOGIN, {"login": bob.email, "password": "pw-" + bob.email, "remember": "on"})
    assert not client.session.get_expire_at_browser_close()


def test_logout_needs_a_post(client, bob):
    client.force_login(bob)
    assert client.get("/accounts/logout/").status_code == 200  # a confirmation page
    assert logged_in_as(client) == bob
    response = client.post("/accounts/logout/")
    assert response["Location"] == LOGIN
    assert logged_in_as(client) is None


def test_the_log_out_button_posts_to_allauth(client, bob):
    client.force_login(bob)
    page = client.get("/inbox/").content.decode()
    assert '<form method="post" action="/accounts/logout/">' in page


def test_the_session_list_shows_this_session(client, bob):
    log_in(client, bob.email, "pw-" + bob.email, REMOTE_ADDR="192.0.2.7")
    page = client.get("/accounts/sessions/", REMOTE_ADDR="192.0.2.7").content.decode()
    assert "192.0.2.7" in page and "Current" in page


# --- The Django admin ---------------------------------------------------------------------


def test_the_admin_login_is_allauths(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == f"{LOGIN}?next=/admin/"


def test_the_admins_own_login_form_does_not_log_anyone_in(client, nordgrid):
    staff = User.objects.create_superuser("root@portal.example", "pw-root")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.email, "password": "pw-root"}
    )
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert logged_in_as(client) is None


def test_a_platform_admin_reaches_the_admin_after_logging_in(client, nordgrid):
    from tests.conftest import enrol_totp, totp_code

    staff = User.objects.create_superuser("root@portal.example", "pw-root")
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    enrol_totp(staff)
    response = client.post(LOGIN, {"login": staff.email, "password": "pw-root", "next": "/admin/"})
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(staff)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/?next=/admin/portal/user/")["Location"] == (
        "/admin/portal/user/"
    )


def test_members_who_are_not_platform_admins_are_refused_by_the_admin(client, bob):
    client.force_login(bob)
    assert client.get("/admin/login/?next=/admin/").status_code == 403
