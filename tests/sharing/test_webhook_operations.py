"""Operator tools of webhook endpoints: the delivery log, "send test event", "redeliver",
re-enabling and secret rotation, on the web pages and the API. Admins of the endpoint's
organisation only (alice); bob (same organisation, reader) is refused, charlie (another
organisation) gets 404."""

import time

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from portal.audit.models import AuditEvent
from sharing.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from sharing.services import webhook_messages, webhooks
from sharing.services.webhooks import register_endpoint
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint, _ = register_endpoint(
        acting_user=alice, url="http://127.0.0.1:9/in?a=1&b=2", description="<b>SOC</b>"
    )
    return endpoint


def log_attempts(endpoint: WebhookEndpoint, count: int) -> list[WebhookMessage]:
    """`count` given-up test messages, one failed attempt each."""
    made = []
    for number in range(count):
        message = WebhookMessage.objects.create(
            endpoint=endpoint, event_type="webhook.test", state="failed", attempts=1
        )
        WebhookAttempt.objects.create(
            message=message,
            number=1,
            started_at=timezone.now() - timezone.timedelta(minutes=number),
            duration_ms=120 + number,
            status_code=500,
            error=f"endpoint answered HTTP 500 <{number}>",
        )
        made.append(message)
    return made


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


# --- The delivery log page ---------------------------------------------------------------


def test_the_delivery_log_lists_attempts_newest_first_with_status_latency_and_error(
    endpoint, alice
):
    log_attempts(endpoint, 3)

    response = client_for(alice).get(reverse("webhook-detail", args=[endpoint.id]))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("HTTP 500 &lt;0&gt;") < page.index("HTTP 500 &lt;2&gt;")
    assert "120 ms" in page and "Redeliver" in page and "Send test event" in page
    assert "<b>SOC</b>" not in page and "&lt;b&gt;SOC&lt;/b&gt;" in page


def test_the_delivery_log_is_paginated_with_a_fixed_number_of_queries(
    endpoint, alice, django_assert_num_queries
):
    log_attempts(endpoint, 30)
    client = client_for(alice)
    url = reverse("webhook-detail", args=[endpoint.id])
    client.get(url)  # warm the session

    # The session, login middleware and navigation (10), then the endpoint, the count and one
    # page of attempts with their messages, however many attempts there are.
    with django_assert_num_queries(13):
        first = client.get(url)
    log_attempts(endpoint, 20)
    with django_assert_num_queries(13):
        second = client.get(url + "?page=2")

    assert first.content.decode().count("Redeliver</button>") == 25
    assert second.context["page"].number == 2
    assert len(second.context["page"].object_list) == 25


def test_another_organisation_gets_404_and_a_reader_is_refused(endpoint, bob, charlie):
    [message] = log_attempts(endpoint, 1)
    urls = [
        ("get", reverse("webhook-detail", args=[endpoint.id])),
        ("post", reverse("webhook-test", args=[endpoint.id])),
        ("post", reverse("webhook-enable", args=[endpoint.id])),
        ("post", reverse("webhook-rotate-secret", args=[endpoint.id])),
        ("post", reverse("webhook-redeliver", args=[endpoint.id, message.id])),
    ]
    for method, url in urls:
        assert getattr(client_for(charlie), method)(url).status_code == 404, url
        assert getattr(client_for(bob), method)(url).status_code == 403, url
    assert WebhookMessage.objects.count() == 1
    message.refresh_from_db()
    assert message.state == "failed"
    assert (
        not AuditEvent.objects.filter(action__startswith="webhook_")
        .exclude(action="webhook_registered")
        .exists()
    )


def test_a_message_of_another_endpoint_is_not_found(endpoint, alice, alpine_admin, settings):
    other, _ = register_endpoint(acting_user=alpine_admin, url="http://127.0.0.1:9/alpine")
    [foreign] = log_attempts(other, 1)
    url = reverse("webhook-redeliver", args=[endpoint.id, foreign.id])
    assert client_for(alice).post(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == "failed"


def test_actions_need_a_csrf_token(endpoint, alice):
    client = client_for(alice, enforce_csrf_checks=True)
    response = client.post(reverse("webhook-test", args=[endpoint.id]))
    assert response.status_code == 403
    assert WebhookMessage.objects.count() == 0


# --- Actions -----------------------------------------------------------------------------


def test_send_test_event_queues_a_signed_test_message(
    endpoint, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(alice).post(reverse("webhook-test", args=[endpoint.id]))

    assert response.status_code == 302
    message = WebhookMessage.objects.get()
    assert (message.event_type, message.publication, message.state) == (
        "webhook.test",
        None,
        "pending",
    )
    assert len(callbacks) == 1  # the send, fired once the transaction commits
    event = AuditEvent.objects.get(action="webhook_test_sent")
    assert event.actor == alice and event.detail["message"] == message.message_id


def test_redeliver_sends_a_given_up_message_again(
    endpoint, alice, django_capture_on_commit_callbacks
):
    [message] = log_attempts(endpoint, 1)
    with django_capture_on_commit_callbacks() as callbacks:
        client_for(alice).post(reverse("webhook-redeliver", args=[endpoint.id, message.id]))
    message.refresh_from_db()
    assert message.state == "pending" and len(callbacks) == 1
    assert AuditEvent.objects.filter(action="webhook_redelivered", actor=alice).count() == 1

    # Already waiting: refused, with a message, and nothing more is audited.
    response = client_for(alice).post(
        reverse("webhook-redeliver", args=[endpoint.id, message.id]), follow=True
    )
    assert "already waiting to be sent" in response.content.decode()
    assert AuditEvent.objects.filter(action="webhook_redelivered").count() == 1


def test_a_disabled_endpoint_is_re_enabled(endpoint, alice):
    webhooks.disable_endpoint(
        endpoint=endpoint, reason="the endpoint answered 410 Gone", now=timezone.now()
    )
    client = client_for(alice)
    page = client.get(reverse("webhook-detail", args=[endpoint.id])).content.decode()
    assert "Disabled" in page and "410 Gone" in page and "Re-enable" in page

    # A disabled endpoint takes no test event.
    refused = client.post(reverse("webhook-test", args=[endpoint.id]), follow=True)
    assert "re-enable it first" in refused.content.decode()
    assert WebhookMessage.objects.count() == 0

    client.post(reverse("webhook-enable", args=[endpoint.id]))
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == "" and endpoint.failing_since is None
    assert AuditEvent.objects.filter(action="webhook_enabled", actor=alice).count() == 1
    again = client.post(reverse("webhook-enable", args=[endpoint.id]), follow=True)
    assert "not disabled" in again.content.decode()


def test_rotating_the_secret_shows_the_new_one_once(endpoint, alice):
    client = client_for(alice)
    response = client.post(reverse("webhook-rotate-secret", args=[endpoint.id]), follow=True)
    secret = response.context["secret"]
    endpoint.refresh_from_db()
    assert secret.startswith("whsec_") and webhook_messages.endpoint_secret(endpoint) == secret
    assert secret in response.content.decode()
    assert secret not in client.get(reverse("webhook-detail", args=[endpoint.id])).content.decode()


# --- API ---------------------------------------------------------------------------------


def test_the_api_lists_attempts_and_checks_the_organisation(
    endpoint, alice, bob, charlie, token_for, client, django_assert_num_queries
):
    log_attempts(endpoint, 3)
    url = reverse("api-webhook-attempts", args=[endpoint.id])

    headers = token_for(alice)
    client.get(url, headers=headers)
    # token with its user, endpoint, count, page
    with django_assert_num_queries(4):
        response = client.get(url, headers=headers)
    log_attempts(endpoint, 10)
    with django_assert_num_queries(4):
        client.get(url, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    first = body["results"][0]
    assert first["status_code"] == 500 and first["duration_ms"] == 120
    assert first["event_type"] == "webhook.test" and first["message_state"] == "failed"
    assert client.get(url, headers=token_for(charlie)).status_code == 404
    assert client.get(url, headers=token_for(bob)).status_code == 403


def test_api_operations_answer_404_for_another_organisation(endpoint, charlie, token_for, client):
    [message] = log_attempts(endpoint, 1)
    for url in (
        reverse("api-webhook-test", args=[endpoint.id]),
        reverse("api-webhook-enable", args=[endpoint.id]),
        reverse("api-webhook-rotate-secret", args=[endpoint.id]),
        reverse("api-webhook-redeliver", args=[endpoint.id, message.id]),
    ):
        assert client.post(url, headers=token_for(charlie)).status_code == 404, url
    assert WebhookMessage.objects.count() == 1


def test_the_api_rotates_a_secret_and_refuses_bad_requests(endpoint, alice, token_for, client):
    headers = token_for(alice)
    rotated = client.post(reverse("api-webhook-rotate-secret", args=[endpoint.id]), headers=headers)
    assert rotated.status_code == 200
    endpoint.refresh_from_db()
    assert webhook_messages.endpoint_secret(endpoint) == rotated.json()["secret"]
    assert rotated.json()["previous_secret_expires_at"]

    not_disabled = client.post(reverse("api-webhook-enable", args=[endpoint.id]), headers=headers)
    assert not_disabled.status_code == 400
    assert not_disabled.json()["errors"] == ["The endpoint is not disabled."]


@pytest.mark.e2e
def test_a_test_event_and_a_redelivery_reach_the_receiver(
    live_server, celery_worker, alice, token_for, settings
):
    """Through the real stack: the API queues, the webhook worker POSTs, the log shows it."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver = WebhookReceiver().start()
    api = live_server.url + "/api/webhooks"
    headers = token_for(alice)
    try:
        registered = requests.post(
            api + "/", json={"url": receiver.url}, headers=headers, timeout=10
        )
        endpoint, secret = registered.json()["id"], registered.json()["secret"]

        queued = requests.post(f"{api}/{endpoint}/test/", headers=headers, timeout=10)
        assert queued.status_code == 202, queued.text
        wait_for(lambda: len(receiver.requests) == 1, "the test event")
        payload = Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
        assert payload["type"] == "webhook.test" and payload["data"]["endpoint"]["id"] == endpoint
        message = queued.json()["message"]
        wait_for(
            lambda: WebhookMessage.objects.filter(pk=message, state="succeeded").exists(),
            "the attempt to be recorded",
        )

        again = requests.post(
            f"{api}/{endpoint}/messages/{message}/redeliver/", headers=headers, timeout=10
        )
        assert again.status_code == 202, again.text
        wait_for(lambda: len(receiver.requests) == 2, "the redelivery")
        ids = {request.headers["webhook-id"] for request in receiver.requests}
        assert ids == {queued.json()["webhook_id"]}
        wait_for(
            lambda: (
                requests.get(f"{api}/{endpoint}/attempts/", headers=headers, timeout=10).json()[
                    "count"
                ]
                == 2
            ),
            "both attempts in the log",
        )
    finally:
        receiver.stop()


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
