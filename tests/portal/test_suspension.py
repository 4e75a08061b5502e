"""Suspending and reinstating an organisation: platform admins only, audited, emailed to its
admins; a suspended organisation's members cannot log in or use tokens, its invitations are
revoked and it receives no deliveries."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.audit.models import AuditAction, AuditEvent
from portal.models import Invitation, Organisation, Role
from portal.services import (
    invite_member,
    reinstate_organisation,
    suspend_organisation,
)
from sharing.models import Distribution, Publication, TlpLevel
from sharing.services.pipeline import recipients_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def suspend(organisation, staff, reason="Compromised accounts"):
    return suspend_organisation(acting_user=staff, organisation=organisation, reason=reason)


def test_a_platform_admin_suspends_after_confirming(
    client, staff, alice, bob, django_capture_on_commit_callbacks
):
    Organisation.objects.filter(pk=alice.organisation_id).update(name="Nord & Grid <AG>")
    invite_member(acting_user=alice, email="new@nordgrid.example", role=Role.READER)
    mail.outbox.clear()
    client.force_login(staff)
    url = f"/staff/organisations/{alice.organisation_id}/suspension/"
    question = client.post(url, {"suspend": "1", "reason": "Leaked <token> & more"})
    assert "Suspend Nord &amp; Grid &lt;AG&gt;?" in question.content.decode()
    assert Organisation.objects.get(pk=alice.organisation_id).suspended_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"suspend": "1", "reason": "Leaked <token> & more", "confirmed": "yes"}
        )
    assert response.status_code == 302 and response["Location"] == "/staff/organisations/"
    organisation = Organisation.objects.get(pk=alice.organisation_id)
    assert organisation.is_suspended
    assert not Invitation.objects.filter(organisation=organisation, revoked_at__isnull=True)
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATION_SUSPENDED)
    assert event.actor == staff and event.organisation == organisation
    assert event.detail["reason"] == "Leaked <token> & more"
    assert event.detail["invitations_revoked"] == 1
    # Its admins (not its readers) are told; subject and text are plain, the HTML escaped.
    (message,) = mail.outbox
    assert message.to == [alice.email]
    assert message.subject == "Nord & Grid <AG> is suspended from the threat-sharing portal"
    assert "Reason: Leaked <token> & more" in message.body
    html = message.alternatives[0][0]
    assert "Nord &amp; Grid &lt;AG&gt;" in html and "Leaked &lt;token&gt; &amp; more" in html
    page = client.get("/staff/organisations/").content.decode()
    assert "Suspended</strong> since" in page and "Reinstate" in page


def test_a_suspension_needs_a_reason_and_writes_nothing_without_one(client, staff, alice):
    client.force_login(staff)
    response = client.post(
        f"/staff/organisations/{alice.organisation_id}/suspension/",
        {"suspend": "1", "reason": "  ", "confirmed": "yes"},
        follow=True,
    )
    assert "Give the reason for the suspension" in response.content.decode()
    assert not Organisation.objects.get(pk=alice.organisation_id).is_suspended
    assert not AuditEvent.objects.filter(action=AuditAction.ORGANISATION_SUSPENDED).exists()
    with pytest.raises(ValidationError, match="Give the reason"):
        suspend(alice.organisation, staff, reason="")


def test_suspending_twice_or_reinstating_an_active_organisation_is_refused(staff, alice):
    with pytest.raises(ValidationError, match="is not suspended"):
        reinstate_organisation(acting_user=staff, organisation=alice.organisation)
    suspend(alice.organisation, staff)
    with pytest.raises(ValidationError, match="already suspended"):
        suspend(alice.organisation, staff)
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATION_SUSPENDED).count() == 1


def test_only_platform_admins_suspend(client, alice, charlie):
    for user in (alice, charlie):
        client.force_login(user)
        url = f"/staff/organisations/{alice.organisation_id}/suspension/"
        response = client.post(url, {"suspend": "1", "reason": "x", "confirmed": "yes"})
        assert response.status_code == 404
        assert client.get("/staff/organisations/").status_code == 403
        with pytest.raises(PermissionDenied):
            suspend_organisation(acting_user=user, organisation=alice.organisation, reason="x")
    assert not Organisation.objects.get(pk=alice.organisation_id).is_suspended


def test_the_organisations_page_has_a_fixed_number_of_queries(
    client, staff, make_organisation, django_assert_num_queries
):
    client.force_login(staff)
    make_organisation("First")
    client.get("/staff/organisations/")
    with django_assert_num_queries(9) as captured:
        client.get("/staff/organisations/")
    for n in range(5):
        make_organisation(f"More {n}")
    with django_assert_num_queries(len(captured.captured_queries)):
        page = client.get("/staff/organisations/").content.decode()
    assert "More 4" in page


def test_a_logged_in_member_is_logged_out_at_the_next_request(client, staff, bob):
    client.force_login(bob)
    assert client.get("/inbox/").status_code == 200
    suspend(bob.organisation, staff)
    response = client.get("/inbox/", follow=True)
    assert SESSION_KEY not in client.session
    assert "Your organisation Nordgrid Transmission is suspended" in response.content.decode()
    assert client.get("/inbox/").status_code == 302  # anonymous from now on


def test_the_api_with_a_session_answers_401_with_the_reason(client, staff, bob):
    client.force_login(bob)
    suspend(bob.organisation, staff)
    response = client.get("/api/inbox/")
    assert response.status_code == 401
    assert "is suspended" in response.json()["detail"]


def test_a_member_cannot_log_in_and_is_told_why(client, staff, bob, charlie):
    suspend(bob.organisation, staff)
    response = client.post("/accounts/login/", {"login": bob.email, "password": "pw-" + bob.email})
    assert response.status_code == 200
    assert "Your organisation Nordgrid Transmission is suspended" in response.content.decode()
    assert SESSION_KEY not in client.session
    # A wrong password still says only that: the suspension is no oracle for passwords.
    wrong = client.post("/accounts/login/", {"login": bob.email, "password": "nope"})
    assert "is suspended" not in wrong.content.decode()
    # Other organisations are unaffected: charlie's password is taken, on to his second factor.
    other = client.post(
        "/accounts/login/", {"login": charlie.email, "password": "pw-" + charlie.email}
    )
    assert other.status_code == 302 and "2fa" in other["Location"]


def test_tokens_are_refused_while_suspended_and_work_again_after(
    client, staff, bob, token_for, django_capture_on_commit_callbacks
):
    headers = token_for(bob)
    auth = {"HTTP_AUTHORIZATION": headers["Authorization"]}
    assert client.get("/api/inbox/", **auth).status_code == 200
    suspend(bob.organisation, staff)
    refused = client.get("/api/inbox/", **auth)
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("Your organisation Nordgrid Transmission is")
    with django_capture_on_commit_callbacks(execute=True):
        reinstate_organisation(acting_user=staff, organisation=bob.organisation)
    assert client.get("/api/inbox/", **auth).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATION_REINSTATED).count() == 1


def test_reinstating_restores_login_and_emails_the_admins_but_invitations_stay_revoked(
    client, staff, alice, bob, django_capture_on_commit_callbacks
):
    invitation, _ = invite_member(acting_user=alice, email="new@nordgrid.example", role=1 * 10)
    suspend(alice.organisation, staff)
    mail.outbox.clear()
    client.force_login(staff)
    url = f"/staff/organisations/{alice.organisation_id}/suspension/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"suspend": "0", "confirmed": "yes"})
    assert not Organisation.objects.get(pk=alice.organisation_id).is_suspended
    (message,) = mail.outbox
    assert message.to == [alice.email] and "is reinstated" in message.subject
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    client.logout()
    client.post("/accounts/login/", {"login": bob.email, "password": "pw-" + bob.email})
    assert client.session[SESSION_KEY] == str(bob.pk)


def test_a_suspended_organisation_is_no_recipient(staff, alice, alpine_admin, trust_group):
    publication = Publication.objects.create(
        organisation=alice.organisation,
        title="t",
        distribution=Distribution.COMMUNITY,
        tlp=TlpLevel.GREEN,
    )
    assert alpine_admin.organisation_id in recipients_of([publication])[publication.id]
    suspend(alpine_admin.organisation, staff)
    assert recipients_of([publication])[publication.id] == {alice.organisation_id}


def test_a_suspended_organisations_pending_webhook_messages_are_not_sent(
    staff, alice, alpine_admin, trust_group
):
    from sharing.models import WebhookEndpoint, WebhookMessage
    from sharing.services.pipeline import sweep
    from sharing.services.webhooks import send_messages

    publication = Publication.objects.create(
        organisation=alice.organisation, title="t", distribution="community", tlp="green"
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=alpine_admin.organisation, url="http://127.0.0.1:9/x", encrypted_secret="x"
    )
    message = WebhookMessage.objects.create(
        endpoint=endpoint,
        publication=publication,
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )
    suspend(alpine_admin.organisation, staff)
    assert send_messages(message_ids=[message.id]) == {}
    assert sweep()["webhooks"] == []
    message.refresh_from_db()
    assert message.attempts == 0 and message.state == "pending"


def test_taxii_tokens_are_refused_with_the_reason(client, staff, bob, token_for):
    import base64

    headers = token_for(bob)
    raw = headers["Authorization"].split()[1]
    basic = "Basic " + base64.b64encode(f"{bob.email}:{raw}".encode()).decode()
    taxii = {"Accept": "application/taxii+json;version=2.1"}
    assert client.get("/taxii2/", headers={**taxii, **headers}).status_code == 200
    suspend(bob.organisation, staff)
    for authorization in (headers["Authorization"], basic):
        refused = client.get("/taxii2/", headers={**taxii, "Authorization": authorization})
        assert refused.status_code == 401
        assert "is suspended" in refused.content.decode()


def test_an_invitation_revoked_by_the_suspension_says_so(client, staff, alice):
    _, raw = invite_member(acting_user=alice, email="new@nordgrid.example", role=Role.READER)
    suspend(alice.organisation, staff)
    page = client.get(f"/invitations/{raw}/").content.decode()
    assert "This invitation was revoked." in page


def test_every_other_way_in_is_refused_too(rf, staff, bob):
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore

    from portal.auth_adapters import AccountAdapter
    from portal.models import User

    suspend(bob.organisation, staff)
    request = rf.get("/accounts/login/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    response = AccountAdapter(request).pre_login(
        request,
        User.objects.get(pk=bob.pk),
        email_verification="none",
        signal_kwargs=None,
        email=None,
        signup=False,
        redirect_url=None,
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "is suspended" in str(list(get_messages(request))[0])
