"""Invitations and members: alice (admin), bob (reader) of Nordgrid; charlie elsewhere."""

import re
from datetime import timedelta

import pytest
from django.core import mail
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


def test_inviting_an_existing_account_is_refused(client, alice, bob):
    response = invite(client, alice, email=bob.email)
    assert response.status_code == 400
    assert "already has an account" in response.content.decode()


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
    client.post(f"/organisation/invitations/{invitation.id}/revoke/")
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


def test_an_org_admin_changes_a_role(client, alice, bob):
    client.force_login(alice)
    client.post(f"/organisation/members/{bob.id}/role/", {"role": Role.PUBLISHER})
    bob.refresh_from_db()
    assert bob.role == Role.PUBLISHER


def test_the_last_org_admin_cannot_be_demoted_or_deactivated(client, alice, bob):
    client.force_login(alice)
    client.post(f"/organisation/members/{alice.id}/role/", {"role": Role.READER})
    client.post(f"/organisation/members/{alice.id}/active/", {"active": "0"})
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
    client.post(f"/organisation/members/{bob.id}/active/", {"active": "0"})

    assert bobs_browser.get("/inbox/").status_code == 302  # back to the login page
    client.logout()
    assert client.get("/api/inbox/", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
