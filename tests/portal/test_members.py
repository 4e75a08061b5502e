"""Invitations and members: alice (admin), bob (reader) of Nordgrid; charlie elsewhere."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from portal.models import Invitation, Role, TokenScope, User
from portal.services import create_api_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def invite(client, user, email="new@nordgrid.example", role=Role.PUBLISHER):
    client.force_login(user)
    return client.post("/organisation/members/", {"email": email, "role": role})


def token_of(message) -> str:
    return re.search(r"/invitations/([^/]+)/", message.body).group(1)


def test_an_org_admin_invites_a_member_by_email(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client, alice)
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.organisation == alice.organisation and invitation.role == Role.PUBLISHER
    assert mail.outbox[0].to == ["new@nordgrid.example"]
    assert invitation.token_hash not in mail.outbox[0].body  # only the hash is stored


def test_a_reader_cannot_invite(client, bob):
    assert invite(client, bob).status_code == 403
    assert not Invitation.objects.exists()


def test_inviting_one_of_our_own_members_is_refused(client, alice, bob):
    response = invite(client, alice, email=bob.email)
    assert response.status_code == 400
    assert "already a member of Nordgrid Transmission" in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_invitation_does_not_say_whether_an_address_belongs_to_another_tenant(
    client, alice, charlie, django_capture_on_commit_callbacks
):
    """Inviting charlie (another organisation's admin) and a stranger look the same to alice;
    charlie learns by email that his account cannot take the invitation."""
    answers = []
    for email in (charlie.email, "stranger@example.org"):
        with django_capture_on_commit_callbacks(execute=True):
            response = invite(client, alice, email=email)
        page = client.get(response["Location"]).content.decode()
        flash = re.search(r'<p class="flash[^"]*">(.*?)</p>', page).group(1)
        answers.append((response.status_code, response["Location"], flash.replace(email, "E")))
    assert answers[0] == answers[1]
    assert answers[0][2] == "E will get an email about joining Nordgrid Transmission."
    assert Invitation.objects.count() == 2
    to_charlie, to_stranger = mail.outbox
    assert "already has an account" in to_charlie.body and "/invitations/" not in to_charlie.body
    assert "/invitations/" in to_stranger.body
    charlie.refresh_from_db()
    assert charlie.organisation.name == "Elsewhere Power"


def test_an_expired_invitation_cannot_be_used(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, alice)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.logout()
    response = client.get(f"/invitations/{token_of(mail.outbox[0])}/")
    assert response.status_code == 404 and b"expired" in response.content


def test_a_revoked_invitation_cannot_be_used(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, alice)
    invitation = Invitation.objects.get()
    client.post(f"/organisation/invitations/{invitation.id}/revoke/", {"confirmed": "yes"})
    client.logout()
    response = client.post(
        f"/invitations/{token_of(mail.outbox[0])}/",
        {
            "full_name": "X",
            "password": "a long passphrase 42",
            "password_again": "a long passphrase 42",
        },
    )
    assert response.status_code == 404 and b"revoked" in response.content
    assert not User.objects.filter(email="new@nordgrid.example").exists()


def test_a_weak_password_is_refused_and_the_invitation_stays_open(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, alice)
    client.logout()
    response = client.post(
        f"/invitations/{token_of(mail.outbox[0])}/",
        {"full_name": "X", "password": "123", "password_again": "123"},
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="new@nordgrid.example").exists()
    assert Invitation.objects.get().accepted_at is None


def test_another_organisation_cannot_revoke_an_invitation(
    client, alice, charlie, django_capture_on_commit_callbacks
):
    invite(client, alice)
    invitation = Invitation.objects.get()
    client.force_login(charlie)
    response = client.post(f"/organisation/invitations/{invitation.id}/revoke/")
    assert response.status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_an_org_admin_changes_a_role_after_confirming(client, alice, bob):
    client.force_login(alice)
    question = client.post(f"/organisation/members/{bob.id}/role/", {"role": Role.PUBLISHER})
    assert question.status_code == 200
    assert f"Make {bob.email} publisher?" in question.content.decode()
    bob.refresh_from_db()
    assert bob.role == Role.READER  # nothing changed before the confirmation
    response = client.post(
        f"/organisation/members/{bob.id}/role/", {"role": Role.PUBLISHER, "confirmed": "yes"}
    )
    bob.refresh_from_db()
    assert bob.role == Role.PUBLISHER
    assert f"{bob.email} is now publisher." in client.get(response["Location"]).content.decode()


def test_a_demoted_publisher_keeps_only_read_tokens(client, alice, publisher):
    token, raw = create_api_token(user=publisher, name="ci", scope=TokenScope.PUBLISH)
    client.force_login(alice)
    client.post(
        f"/organisation/members/{publisher.id}/role/", {"role": Role.READER, "confirmed": "yes"}
    )
    token.refresh_from_db()
    assert token.scope == TokenScope.READ and token.revoked_at is None
    client.logout()
    response = client.post(
        "/api/publications/",
        {},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 403


def test_the_last_org_admin_cannot_be_demoted_or_deactivated(client, alice, bob):
    client.force_login(alice)
    client.post(f"/organisation/members/{alice.id}/role/", {"role": 10, "confirmed": "yes"})
    client.post(f"/organisation/members/{alice.id}/active/", {"active": "0", "confirmed": "yes"})
    alice.refresh_from_db()
    assert alice.role == Role.ORG_ADMIN and alice.is_active
    page = client.get("/organisation/members/").content.decode()
    assert "at least one active organisation admin" in page


def test_a_reader_cannot_change_roles(client, alice, bob):
    client.force_login(bob)
    response = client.post(f"/organisation/members/{alice.id}/role/", {"role": Role.READER})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.role == Role.ORG_ADMIN


def test_another_organisation_cannot_touch_our_members(client, charlie, bob):
    client.force_login(charlie)
    assert (
        client.post(f"/organisation/members/{bob.id}/active/", {"active": "0"}).status_code == 404
    )
    assert client.post(f"/organisation/members/{bob.id}/role/", {"role": 30}).status_code == 404
    bob.refresh_from_db()
    assert bob.is_active and bob.role == Role.READER


def test_a_deactivated_member_loses_sessions_and_tokens_at_once(client, alice, bob):
    from django.test import Client

    _, raw = create_api_token(user=bob, name="ci", scope=TokenScope.READ)
    bobs_browser = Client()
    bobs_browser.force_login(bob)
    assert bobs_browser.get("/inbox/").status_code == 200
    assert client.get("/api/inbox/", headers={"Authorization": f"Bearer {raw}"}).status_code == 200

    client.force_login(alice)
    client.post(f"/organisation/members/{bob.id}/active/", {"active": "0", "confirmed": "yes"})

    assert bobs_browser.get("/inbox/").status_code == 302  # back to the login page
    client.logout()
    assert client.get("/api/inbox/", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_an_org_admin_sees_each_members_protection_and_activity(
    client, alice, bob, publisher, django_assert_num_queries
):
    create_api_token(user=publisher, name="pipeline", scope=TokenScope.PUBLISH)
    bobs_browser = Client()
    bobs_browser.post("/accounts/login/", {"login": bob.email, "password": "pw-" + bob.email})
    client.force_login(alice)
    client.get("/organisation/members/")  # warm the session and the sessions list
    with django_assert_num_queries(14):
        page = client.get("/organisation/members/").content.decode()
    row_of = {
        m: page[page.index(f'<td data-label="Email">{m.email}') :][:2500] for m in (bob, publisher)
    }
    assert "enrolled" in row_of[publisher] and "pipeline" in row_of[publisher]
    assert "none" in row_of[bob] and "UTC" in row_of[bob]  # last login, labelled
    assert 'data-label="Sessions">1' in row_of[bob]


def test_a_reader_sees_no_ones_tokens_or_sessions(client, bob, publisher):
    create_api_token(user=publisher, name="pipeline", scope=TokenScope.PUBLISH)
    client.force_login(bob)
    page = client.get("/organisation/members/").content.decode()
    assert publisher.email in page and "pipeline" not in page and "Sessions" not in page


def test_an_org_admin_revokes_a_members_tokens_and_ends_their_sessions(client, alice, bob):
    _, raw = create_api_token(user=bob, name="ci", scope=TokenScope.READ)
    bobs_browser = Client()
    bobs_browser.post("/accounts/login/", {"login": bob.email, "password": "pw-" + bob.email})
    assert bobs_browser.get("/inbox/").status_code == 200
    client.force_login(alice)
    client.post(f"/organisation/members/{bob.id}/tokens/revoke/", {"confirmed": "yes"})
    response = client.post(f"/organisation/members/{bob.id}/sessions/end/", {"confirmed": "yes"})
    assert (
        f"The sessions of {bob.email} are ended."
        in client.get(response["Location"]).content.decode()
    )
    assert bobs_browser.get("/inbox/").status_code == 302
    assert (
        Client().get("/api/inbox/", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )


def test_another_organisation_cannot_revoke_our_tokens_or_sessions(client, charlie, bob):
    token, _ = create_api_token(user=bob, name="ci", scope=TokenScope.READ)
    client.force_login(charlie)
    assert (
        client.post(
            f"/organisation/members/{bob.id}/tokens/revoke/", {"confirmed": "yes"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/organisation/members/{bob.id}/sessions/end/", {"confirmed": "yes"}
        ).status_code
        == 404
    )
    assert client.post(f"/tokens/{token.id}/revoke/", {"confirmed": "yes"}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
