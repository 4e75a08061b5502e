"""Email notices and digests through a real SMTP server on 127.0.0.1 (aiosmtpd): structure,
RFC 8058 one-click unsubscribe, the TLP rules, escaping, retries and the digest's clock."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.audit.models import AuditAction, AuditEvent
from sharing.models import (
    EmailAttempt,
    EmailKind,
    EmailNotice,
    EmailState,
    NotificationSettings,
    Publication,
)
from sharing.services import notifications, subscriptions
from sharing.transports.base import TransportError
from sharing.transports.email import EmailTransport
from sharing.transports.registry import TRANSPORTS, transport_class
from sharing.transports.webhook import WebhookTransport
from tests import stix_samples
from tests.sharing.test_pipeline import publish, run_pipeline

pytestmark = pytest.mark.django_db

SECRET_TITLE = "Operation Quiet Lynx against substation 7"
SECRET_NAME = "Lynx loader beacon at 198.51.100.23"
SECRET_DESCRIPTION = "Internal note: the loader hides in the HMI update share"


def secret_bundle() -> dict:
    first = stix_samples.indicator(name=SECRET_NAME, description=SECRET_DESCRIPTION)
    return stix_samples.bundle(first)


def wants_email(user, **filters) -> None:
    subscriptions.save_settings(acting_user=user, channel="email", filters=filters)


# --- Transports -----------------------------------------------------------------------------


def test_the_registry_knows_the_three_kinds_and_webhook_errors_are_transport_errors():
    from sharing.services.webhooks import DeliveryError

    assert set(TRANSPORTS) == {"inbox", "email", "webhook"}
    assert transport_class("webhook") is WebhookTransport
    with pytest.raises(KeyError, match="no transport 'pigeon'; there are email, inbox, webhook"):
        transport_class("pigeon")
    error = DeliveryError("gone", permanent=True, status_code=410)
    assert isinstance(error, TransportError) and error.permanent and error.status_code == 410


def test_the_email_transport_tells_permanent_from_transient_failures(smtp, settings):
    from django.core.mail import EmailMultiAlternatives

    def message(to: str) -> EmailMultiAlternatives:
        return EmailMultiAlternatives("s", "b", "portal@example.org", [to])

    transport = EmailTransport()
    assert transport.send(message("ok@example.org")) == 250
    smtp.refuse.add("gone@example.org")
    with pytest.raises(TransportError) as refused:
        transport.send(message("gone@example.org"))
    assert refused.value.permanent and refused.value.status_code == 550
    transport.close()

    settings.EMAIL_PORT = 9  # nothing listens: try again later
    with pytest.raises(TransportError) as unreachable:
        EmailTransport().send(message("ok@example.org"))
    assert not unreachable.value.permanent
    assert "mail server unreachable" in str(unreachable.value)


def test_the_email_transport_sends_over_one_connection_until_closed(smtp, settings):
    from django.core.mail import EmailMultiAlternatives

    def message(to: str) -> EmailMultiAlternatives:
        return EmailMultiAlternatives("s", "b", "portal@example.org", [to])

    smtp.refuse.add("gone@example.org")
    transport = EmailTransport()
    transport.send(message("one@example.org"))
    with pytest.raises(TransportError):
        transport.send(message("gone@example.org"))  # refused at RCPT: the connection stays
    transport.send(message("two@example.org"))
    transport.close()
    transport.send(message("three@example.org"))  # a new connection after close()
    transport.close()

    [one], [two], [three] = (smtp.to(f"{n}@example.org") for n in ("one", "two", "three"))
    assert one.peer == two.peer
    assert three.peer != one.peer


def test_a_batch_of_notices_goes_over_one_smtp_connection(
    chain, smtp, trust_group, publisher, alpine_admin, alice
):
    wants_email(alpine_admin)
    wants_email(alice)
    run_pipeline(publish(publisher, tlp="green"))

    assert len(notifications.send_due()) == 2
    [first], [second] = smtp.to(alpine_admin.email), smtp.to(alice.email)
    assert first.peer == second.peer


def test_a_full_batch_starts_the_next_one_before_it_sends(
    chain, smtp, trust_group, publisher, alpine_admin, alice, monkeypatch
):
    from sharing import tasks

    wants_email(alpine_admin)
    wants_email(alice)
    run_pipeline(publish(publisher, tlp="green"))
    monkeypatch.setattr(tasks, "EMAIL_BATCH", 1)
    mails_when_fired = []
    monkeypatch.setattr(
        tasks, "fire_once", lambda task: mails_when_fired.append(len(smtp.messages))
    )

    tasks.send_email_notices()  # claims one of the two, fires the next batch, then sends
    assert mails_when_fired == [0] and len(smtp.messages) == 1
    tasks.send_email_notices()
    tasks.send_email_notices()  # nothing left: an empty claim fires nothing
    assert mails_when_fired == [0, 1] and len(smtp.messages) == 2


def test_a_batch_of_notices_costs_the_same_queries_however_many_members(
    chain, smtp, trust_group, publisher, alpine_admin, alice, bob
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_send(users) -> int:
        for user in users:
            wants_email(user)
        run_pipeline(publish(publisher, tlp="green"))
        with CaptureQueriesContext(connection) as captured:
            assert len(notifications.send_due()) == len(users)
        for user in users:
            subscriptions.save_settings(acting_user=user, channel="none", filters={})
        return len(captured)

    assert queries_to_send([alpine_admin]) == queries_to_send([alpine_admin, alice, bob])


# --- Notices -------------------------------------------------------------------------------


def test_a_notice_has_text_and_html_parts_and_one_click_unsubscribe(
    chain, smtp, trust_group, publisher, alpine_admin, settings
):
    settings.SITE_URL = "https://cti.example.org"
    wants_email(alpine_admin)
    run_pipeline(publish(publisher, tlp="green"))
    outcomes = notifications.send_due()

    assert [o.state for o in outcomes.values()] == [EmailState.SENT]
    [mail] = smtp.to(alpine_admin.email)
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    token = subscriptions.unsubscribe_token(alpine_admin)
    # As it travelled: folded (RFC 5322 section 2.2.3) but never RFC 2047-encoded.
    unsubscribe = mail.raw_header("List-Unsubscribe")
    assert unsubscribe == f"<https://cti.example.org/unsubscribe/{token}/>"
    assert mail.raw_header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert message["Subject"] == (
        "[Energy CTI] TLP:GREEN: Spear-phishing against grid operators (from Nordgrid Transmission)"
    )
    text = mail.part("text/plain")
    assert "Spear-phishing against grid operators" in text
    assert "2 objects: 1 indicator, 1 report" in text
    assert "https://cti.example.org/notifications/" in text
    assert "https://cti.example.org/inbox/" in mail.part("text/html")
    notice = EmailNotice.objects.get()
    assert (notice.kind, notice.state, notice.user) == ("notice", "sent", alpine_admin)
    attempt = EmailAttempt.objects.get()
    assert attempt.succeeded and attempt.number == 1 and attempt.error == ""
    # Sent once: a second run finds nothing due.
    assert notifications.send_due() == {}
    assert len(smtp.to(alpine_admin.email)) == 1


@pytest.mark.parametrize("tlp", ["amber", "amber+strict", "red"])
def test_no_text_of_an_item_above_green_goes_into_the_email(
    chain, smtp, trust_group, publisher, alpine_admin, tlp
):
    wants_email(alpine_admin)
    publication = publish(publisher, tlp=tlp, bundle=secret_bundle(), title=SECRET_TITLE)
    run_pipeline(publication)
    notifications.send_due()

    [mail] = smtp.to(alpine_admin.email)
    everything = mail.everything
    for secret in (SECRET_TITLE, SECRET_NAME, SECRET_DESCRIPTION, "198.51.100.23", "indicator"):
        assert secret not in everything
    label = {"amber": "TLP:AMBER", "amber+strict": "TLP:AMBER+STRICT", "red": "TLP:RED"}[tlp]
    assert mail.message["Subject"] == f"[Energy CTI] New {label} item from Nordgrid Transmission"
    text = mail.part("text/plain")
    assert f"New item from Nordgrid Transmission, {label}" in text
    assert "Log in to read it: http" in text


def test_names_read_as_written_in_subject_and_text_and_are_escaped_in_html(
    chain, smtp, trust_group, publisher, alpine_admin
):
    trust_group.name = "Baltic & Alpine"
    trust_group.save()
    wants_email(alpine_admin)
    title = 'Grid & "Co" <script>alert(1)</script>'
    run_pipeline(publish(publisher, tlp="clear", title=title))
    notifications.send_due()

    [mail] = smtp.to(alpine_admin.email)
    assert title in mail.message["Subject"]
    text = mail.part("text/plain")
    assert "shared with Baltic & Alpine" in text and title in text
    html = mail.part("text/html")
    assert "shared with Baltic &amp; Alpine" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_only_members_whose_settings_match_are_emailed(
    chain, smtp, trust_group, publisher, alpine_admin, bob, charlie
):
    wants_email(alpine_admin, min_tlp="amber")
    wants_email(bob, stix_types=["malware"])  # the bundle holds an indicator and a report
    wants_email(charlie)  # not entitled: his organisation is outside the trust group
    subscriptions.save_settings(acting_user=publisher, channel="none", filters={})
    run_pipeline(publish(publisher, tlp="amber"))
    notifications.send_due()

    assert {r for m in smtp.messages for r in m.recipients} == {alpine_admin.email}


def test_a_refused_address_is_given_up_at_once_and_a_dead_server_is_retried(
    chain, smtp, trust_group, publisher, alpine_admin, bob, settings
):
    wants_email(alpine_admin)
    wants_email(bob)
    smtp.refuse.add(bob.email)
    run_pipeline(publish(publisher))
    settings.EMAIL_PORT = 9  # the mail server is down
    now = timezone.now()
    outcomes = notifications.send_due(now=now)
    assert {o.state for o in outcomes.values()} == {EmailState.PENDING}
    retry_at = now + timedelta(seconds=settings.EMAIL_RETRY_DELAYS[0])
    assert set(EmailNotice.objects.values_list("next_attempt_at", flat=True)) == {retry_at}
    assert notifications.send_due(now=now + timedelta(seconds=1)) == {}  # not due yet

    settings.EMAIL_PORT = smtp.port
    outcomes = notifications.send_due(now=retry_at)
    states = {EmailNotice.objects.get(pk=pk).user: o.state for pk, o in outcomes.items()}
    assert states == {alpine_admin: EmailState.SENT, bob: EmailState.FAILED}
    bob_attempts = EmailAttempt.objects.filter(notice__user=bob).order_by("number")
    assert [a.succeeded for a in bob_attempts] == [False, False]
    assert "550" in bob_attempts[1].error


def test_a_member_deactivated_or_moved_before_delivery_gets_no_notice(
    chain, smtp, trust_group, publisher, alpine_admin, bob, charlie
):
    from portal.models import Role
    from portal.services import create_member

    wants_email(alpine_admin)
    wants_email(bob)
    mover = create_member(
        organisation=alpine_admin.organisation,
        email="mo@alpine.example",
        role=Role.READER,
        password="x",
    )
    wants_email(mover)
    publication = publish(publisher)
    bob.is_active = False
    bob.save()
    mover.organisation = charlie.organisation  # now in an organisation not entitled to it
    mover.save()
    run_pipeline(publication)
    notifications.send_due()

    assert {r for m in smtp.messages for r in m.recipients} == {alpine_admin.email}
    assert set(EmailNotice.objects.values_list("user", flat=True)) == {alpine_admin.id}


# --- The daily digest --------------------------------------------------------------------------


def test_the_digest_holds_what_was_delivered_before_its_clock(
    chain, smtp, trust_group, publisher, alpine_admin
):
    subscriptions.save_settings(acting_user=alpine_admin, channel="digest", filters={})
    subscriptions.save_settings(acting_user=publisher, channel="none", filters={})
    first = run_pipeline(publish(publisher, tlp="green", title="Morning item"))
    second = run_pipeline(publish(publisher, tlp="red", title=SECRET_TITLE))
    monday = timezone.now().replace(microsecond=0) + timedelta(days=1)
    Publication.objects.filter(pk=first.pk).update(delivered_at=monday - timedelta(hours=3))
    Publication.objects.filter(pk=second.pk).update(delivered_at=monday + timedelta(hours=1))

    assert notifications.queue_digests(now=monday) == 1
    notifications.send_due(now=monday)
    [mail] = smtp.to(alpine_admin.email)
    assert mail.message["Subject"] == "[Energy CTI] Daily digest: 1 new item"
    assert "Morning item" in mail.part("text/plain") and SECRET_TITLE not in mail.everything
    assert "List-Unsubscribe=One-Click" == mail.message["List-Unsubscribe-Post"]

    smtp.clear()
    tuesday = monday + timedelta(days=1)
    assert notifications.queue_digests(now=tuesday) == 1
    notifications.send_due(now=tuesday)
    [mail] = smtp.to(alpine_admin.email)
    assert "New item from Nordgrid Transmission, TLP:RED" in mail.part("text/plain")
    assert SECRET_TITLE not in mail.everything
    assert notifications.queue_digests(now=tuesday + timedelta(days=1)) == 0
    assert EmailNotice.objects.filter(kind=EmailKind.DIGEST).count() == 2


# --- One-click unsubscribe ------------------------------------------------------------------


def test_one_click_unsubscribe_needs_no_login_and_no_csrf_token(bob):
    wants_email(bob, labels=["phishing"])
    client = Client(enforce_csrf_checks=True)
    url = f"/unsubscribe/{subscriptions.unsubscribe_token(bob)}/"

    page = client.get(url)  # link scanners fetch it: nothing changes
    assert page.status_code == 200 and b"Stop every email" in page.content
    assert NotificationSettings.objects.get(user=bob).channel == "email"

    response = client.post(
        url,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    saved = NotificationSettings.objects.get(user=bob)
    assert saved.channel == "none" and saved.labels == ["phishing"]  # filters kept
    event = AuditEvent.objects.get(action=AuditAction.EMAIL_UNSUBSCRIBED)
    assert event.actor == bob


def test_a_forged_or_altered_unsubscribe_token_changes_nothing(bob, alice):
    wants_email(bob)
    token = subscriptions.unsubscribe_token(bob)
    # Alice's id with Bob's signature.
    _, signature = token.split(":")
    alice_payload = subscriptions.unsubscribe_token(alice).split(":")[0]
    swapped = f"{alice_payload}:{signature}"
    client = Client(enforce_csrf_checks=True)
    for bad in (token[:-2] + "xx", "not-a-token", swapped):
        response = client.post(f"/unsubscribe/{bad}/")
        assert response.status_code == 404
        assert b"This unsubscribe link is not valid" in response.content
    assert NotificationSettings.objects.get(user=bob).channel == "email"
    assert not AuditEvent.objects.filter(action=AuditAction.EMAIL_UNSUBSCRIBED).exists()


def test_the_settings_pages_still_need_a_csrf_token(bob, alice):
    for user, url in ((bob, "/notifications/"), (alice, "/notifications/defaults/")):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        assert client.post(url, {"channel": "none"}).status_code == 403
    assert not NotificationSettings.objects.exists()


# --- The tasks ------------------------------------------------------------------------------


def test_the_sweeper_fires_the_sender_for_due_notices_and_the_task_sends_them(smtp, bob, settings):
    from unittest import mock

    from portal.celery import started
    from sharing import tasks
    from sharing.models import ChannelKind, PublicationChannel

    started(tasks.send_email_notices)
    publication = Publication.objects.create(
        organisation=bob.organisation, title="t", distribution="organisation", tlp="green"
    )
    notice = EmailNotice.objects.create(user=bob, kind=EmailKind.NOTICE)
    PublicationChannel.objects.create(
        publication=publication, kind=ChannelKind.EMAIL, user=bob, notice=notice
    )
    with mock.patch.object(tasks.send_email_notices, "delay") as fired:
        tasks.sweep()
    fired.assert_called_once_with()

    settings.EMAIL_PORT = 9  # down: the task schedules its own retry
    with mock.patch.object(tasks.send_email_notices, "apply_async") as later:
        assert tasks.send_email_notices() == {"pending": 1}
    later.assert_called_once_with(countdown=settings.EMAIL_RETRY_DELAYS[0])
    EmailNotice.objects.update(next_attempt_at=timezone.now())
    settings.EMAIL_PORT = smtp.port
    assert tasks.send_email_notices() == {"sent": 1}
    assert len(smtp.to(bob.email)) == 1
