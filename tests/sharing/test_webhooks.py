"""Outgoing webhooks (sharing/services/webhooks.py) against a receiver on 127.0.0.1.

Each test delivers an anchored publication (run on anvil, as in test_pipeline) to an Alpine
endpoint and drives send_message by hand; the Celery retry is patched out and observed.
"""

import socket
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from sharing import tasks
from sharing.models import Publication, WebhookAttempt, WebhookEndpoint, WebhookMessage
from sharing.services import webhooks
from sharing.services.webhook_messages import check_target_url, endpoint_secret
from sharing.services.webhooks import register_endpoint, send_message
from sharing.transports.webhook import WebhookTransport
from tests.sharing.test_pipeline import publish, run_pipeline
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@dataclass
class Delivered:
    message: WebhookMessage
    secret: str
    receiver: WebhookReceiver
    publication: Publication


@pytest.fixture
def receivers():
    started: list[WebhookReceiver] = []

    def start(fail_first: int = 0, fail_status: int = 503) -> WebhookReceiver:
        receiver = WebhookReceiver(fail_first=fail_first, fail_status=fail_status).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def deliver(chain, settings, trust_group, publisher, alpine_admin, receivers):
    """Register an Alpine endpoint on a fresh receiver, then publish and deliver to it."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_JITTER = 0

    def run(fail_first: int = 0, fail_status: int = 503, path: str = "") -> Delivered:
        receiver = receivers(fail_first, fail_status)
        endpoint, secret = register_endpoint(
            acting_user=alpine_admin, url=receiver.url + path, description="SOC <intake>"
        )
        publication = run_pipeline(publish(publisher))
        return Delivered(
            WebhookMessage.objects.get(endpoint=endpoint), secret, receiver, publication
        )

    return run


def send(message: WebhookMessage) -> tuple[str | None, mock.MagicMock]:
    """One send_message call; returns its result and the patched retry scheduler."""
    with mock.patch("sharing.tasks.send_webhook.apply_async") as retry:
        state = tasks.send_webhook(message.id)
    message.refresh_from_db()
    return state, retry


def make_due(message: WebhookMessage) -> None:
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_a_successful_post_is_signed_per_standard_webhooks(deliver):
    delivered = deliver()
    message = delivered.message

    state, retry = send(message)

    assert state == "succeeded" == message.state
    assert message.succeeded_at is not None and message.attempts == 1
    retry.assert_not_called()
    [request] = delivered.receiver.requests
    assert request.headers["webhook-id"] == message.message_id
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(delivered.secret).verify(request.body, request.headers)
    assert payload["type"] == "publication.delivered"
    assert payload["data"]["publication"]["id"] == delivered.publication.id
    items = delivered.publication.items.order_by("id")
    assert payload["data"]["items"] == [{"object": o.body, "receipt": o.receipt} for o in items]
    assert all(item["receipt"]["type"] == "cti-portal-receipt" for item in payload["data"]["items"])
    [attempt] = message.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 204, True)


def test_a_signature_made_with_another_secret_does_not_verify(deliver):
    from standardwebhooks.webhooks import WebhookVerificationError

    delivered = deliver()
    send(delivered.message)
    [request] = delivered.receiver.requests
    other_secret = "whsec_" + "A" * 43 + "="
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(request.body, request.headers)


def test_a_message_gets_one_attempt_row_per_post(deliver):
    delivered = deliver(fail_first=2)
    message = delivered.message

    for _ in range(3):
        send(message)
        make_due(message)

    assert message.state == "succeeded"
    assert len(delivered.receiver.requests) == 3 == WebhookAttempt.objects.count()
    log = list(message.attempt_log.values_list("number", "status_code", "succeeded"))
    assert log == [(1, 503, False), (2, 503, False), (3, 204, True)]
    assert "HTTP 503" in message.attempt_log.first().error


def test_a_failed_post_stays_pending_and_is_retried_after_the_configured_delay(deliver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [5, 30]
    delivered = deliver(fail_first=3)
    message = delivered.message

    countdowns = []
    for _ in range(3):
        before = timezone.now()
        state, retry = send(message)
        after = timezone.now()
        assert state == "pending" == message.state
        [call] = retry.call_args_list
        assert call.args == ((message.id,),)
        countdowns.append(call.kwargs["countdown"])
        delay = timedelta(seconds=countdowns[-1])
        assert before + delay <= message.next_attempt_at <= after + delay
        make_due(message)

    # The delay before attempt 2, then attempt 3; the last value repeats.
    assert countdowns == [5, 30, 30]
    assert message.attempts == 3


def test_it_gives_up_after_the_maximum_number_of_attempts(deliver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    delivered = deliver(fail_first=100)
    message = delivered.message

    states, retries = [], 0
    for _ in range(3):
        state, retry = send(message)
        states.append(state)
        retries += retry.call_count
        make_due(message)

    assert states == ["pending", "pending", "failed"]
    assert retries == 2  # no retry is scheduled after the last attempt
    assert send(message)[0] is None  # a failed message is never sent again
    assert len(delivered.receiver.requests) == 3 == message.attempt_log.count()
    assert message.state == "failed" and message.succeeded_at is None


def test_the_same_message_id_is_reused_across_attempts(deliver):
    delivered = deliver(fail_first=1)
    message = delivered.message

    send(message)
    make_due(message)
    send(message)

    ids = [request.headers["webhook-id"] for request in delivered.receiver.requests]
    assert ids == [message.message_id] * 2
    assert delivered.receiver.answered == [503, 204]
    retried = delivered.receiver.requests[1]
    assert Webhook(delivered.secret).verify(retried.body, retried.headers)["type"] == (
        "publication.delivered"
    )


def test_a_claimed_message_that_is_not_due_is_not_sent_twice(deliver):
    delivered = deliver(fail_first=1)
    message = delivered.message

    first, _ = send(message)
    second, retry = send(message)

    assert (first, second) == ("pending", None)
    retry.assert_not_called()
    assert len(delivered.receiver.requests) == 1
    assert message.attempts == 1 and message.attempt_log.count() == 1


def test_a_message_being_sent_cannot_be_claimed_by_another_sender(deliver):
    delivered = deliver()
    message = delivered.message
    post = WebhookTransport.post
    concurrent: list[str | None] = []

    def post_while_another_sender_tries(claimed: WebhookMessage, *args) -> int:
        concurrent.append(send_message(message_id=claimed.id))
        return post(claimed, *args)

    with mock.patch.object(WebhookTransport, "post", side_effect=post_while_another_sender_tries):
        state, _ = send(message)

    assert concurrent == [None]
    assert state == "succeeded"
    assert len(delivered.receiver.requests) == 1 and message.attempts == 1


def test_an_unreachable_endpoint_is_retried(deliver):
    delivered = deliver()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    WebhookEndpoint.objects.filter(pk=delivered.message.endpoint_id).update(
        url=f"http://127.0.0.1:{closed_port}/in"
    )

    state, retry = send(delivered.message)

    assert state == "pending"
    retry.assert_called_once()
    attempt = delivered.message.attempt_log.get()
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.error.startswith("request failed")


def test_a_target_that_is_no_longer_allowed_fails_at_once(deliver, settings):
    delivered = deliver()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    state, retry = send(delivered.message)

    assert state == "failed"
    retry.assert_not_called()
    assert delivered.receiver.requests == []
    assert "non-public address" in delivered.message.attempt_log.get().error


# --- Target URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/in",
        "http://localhost:8080/in",
        "https://10.0.0.1/in",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/in",
        "http://192.168.1.20/in",
        "http://0.0.0.0/in",
        "http://[::ffff:127.0.0.1]/in",
        "http://2130706433/in",
    ],
)
def test_it_refuses_private_loopback_and_metadata_targets(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError, match="non-public address"):
        check_target_url(url)


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://hooks.example.com/in", "http:// or https://"),
        ("https:///in", "http:// or https://"),
        ("https://soc:hunter2@hooks.example.com/in", "credentials"),
        ("http://user@127.0.0.1/in", "credentials"),
    ],
)
def test_it_refuses_other_schemes_and_credentials_even_for_private_targets(
    settings, allow_private, url, reason
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = allow_private
    with pytest.raises(ValidationError, match=reason):
        check_target_url(url)


def test_it_accepts_a_public_address(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    check_target_url("https://8.8.8.8/in")


def test_it_allows_loopback_when_private_targets_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    check_target_url("http://127.0.0.1:8080/in")


def test_a_refused_url_registers_no_endpoint(settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError):
        register_endpoint(acting_user=alice, url="http://169.254.169.254/")
    assert WebhookEndpoint.objects.count() == 0


# --- Endpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["bob", "publisher"])
def test_only_an_organisation_admin_can_register_a_webhook(request, settings, user):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(PermissionDenied):
        register_endpoint(acting_user=request.getfixturevalue(user), url="http://127.0.0.1/in")
    assert WebhookEndpoint.objects.count() == 0


def test_the_secret_is_stored_encrypted(settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint, secret = register_endpoint(acting_user=alice, url="http://127.0.0.1/in")
    _, other_secret = register_endpoint(acting_user=alice, url="http://127.0.0.1/other")

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT encrypted_secret FROM {WebhookEndpoint._meta.db_table} WHERE id = %s",
            [endpoint.id],
        )
        [stored] = cursor.fetchone()
    assert secret.startswith("whsec_") and secret != other_secret
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    endpoint.refresh_from_db()
    assert endpoint_secret(endpoint) == secret


def test_the_post_goes_to_the_address_that_was_checked(deliver):
    """The name is resolved once, checked, and the connection made to that very address with
    the name in the Host header: a DNS answer changing in between (rebinding) changes nothing."""
    delivered = deliver()
    receiver = delivered.receiver
    port = receiver.server.server_address[1]
    message = delivered.message
    message.endpoint.url = f"http://hooks.partner.test:{port}/in"
    message.endpoint.save()
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]])

    real_getaddrinfo = socket.getaddrinfo

    def resolve_once(host, *args, **kwargs):
        if host == "127.0.0.1":  # connecting to the pinned address: a literal, no lookup
            return real_getaddrinfo(host, *args, **kwargs)
        assert host == "hooks.partner.test"
        return next(answers)  # a second lookup of the name would raise StopIteration

    with mock.patch("socket.getaddrinfo", side_effect=resolve_once):
        state, _ = send(message)
    assert state == "succeeded"
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.partner.test:{port}"


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(deliver, settings):
    delivered = deliver()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    message = delivered.message
    message.endpoint.url = "https://hooks.partner.test/in"
    message.endpoint.save()
    private = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
    with mock.patch("socket.getaddrinfo", return_value=private):
        state, _ = send(message)
    assert state == "failed"
    error = message.attempt_log.get().error
    assert "non-public address" in error and "10.1.2.3" not in error
    assert delivered.receiver.requests == []


def test_https_targets_must_present_a_trusted_certificate_for_their_name(deliver, tmp_path):
    """Pinning the address must not weaken TLS: the certificate is still checked for the name."""
    import datetime as dt
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.partner.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.partner.test")]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        delivered = deliver()
        message = delivered.message
        message.endpoint.url = f"https://hooks.partner.test:{port}/in"
        message.endpoint.save()
        real_getaddrinfo = socket.getaddrinfo

        def resolve(host, *args, **kwargs):
            if host == "hooks.partner.test":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
            return real_getaddrinfo(host, *args, **kwargs)

        with mock.patch("socket.getaddrinfo", side_effect=resolve):
            state, _ = send(message)
    finally:
        server.shutdown()
        server.server_close()
    assert state == "pending"  # retried later, as any failed attempt
    assert "CERTIFICATE_VERIFY_FAILED" in message.attempt_log.get().error
    assert hits == []


# --- Retry schedule, 410 Gone, disabling ---------------------------------------------------

STANDARD_WEBHOOKS_SCHEDULE = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]


def test_the_default_retry_schedule_is_the_standard_webhooks_one():
    from portal import settings as defaults

    # Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts in all.
    assert defaults.WEBHOOK_RETRY_DELAYS == STANDARD_WEBHOOKS_SCHEDULE
    assert defaults.WEBHOOK_MAX_ATTEMPTS == 8
    assert 0 < defaults.WEBHOOK_RETRY_JITTER < 0.5


def test_a_failing_message_follows_the_schedule_then_gives_up(deliver, settings):
    settings.WEBHOOK_RETRY_DELAYS = STANDARD_WEBHOOKS_SCHEDULE
    settings.WEBHOOK_MAX_ATTEMPTS = 8
    delivered = deliver(fail_first=100)
    message = delivered.message
    now = message.next_attempt_at

    waits, states = [], []
    for _ in range(8):
        outcome = webhooks.send_message(message_id=message.id, now=now)
        message.refresh_from_db()
        states.append(outcome.state)
        if outcome.retry_in is not None:
            assert message.next_attempt_at == now + timedelta(seconds=outcome.retry_in)
            # Not due a second earlier: nothing is sent.
            early = now + timedelta(seconds=outcome.retry_in - 1)
            assert webhooks.send_message(message_id=message.id, now=early) is None
            waits.append(outcome.retry_in)
            now = message.next_attempt_at

    assert waits == STANDARD_WEBHOOKS_SCHEDULE
    assert states == ["pending"] * 7 + ["failed"]
    assert len(delivered.receiver.requests) == 8 == message.attempt_log.count()


def test_retry_delays_are_jittered_within_the_configured_fraction(settings):
    import random

    settings.WEBHOOK_RETRY_DELAYS = STANDARD_WEBHOOKS_SCHEDULE
    settings.WEBHOOK_RETRY_JITTER = 0.1
    rng = random.Random(7)
    delays = [webhooks.retry_delay(3, rng=rng) for _ in range(200)]
    assert all(1620 <= delay <= 1980 for delay in delays)  # 30 min +/- 10%
    assert len(set(delays)) > 50  # spread, not in lockstep
    settings.WEBHOOK_RETRY_JITTER = 0
    assert webhooks.retry_delay(3, rng=rng) == 1800


def test_a_410_gone_disables_the_endpoint_at_once(
    deliver, settings, mailoutbox, django_capture_on_commit_callbacks
):
    from portal.audit.models import AuditEvent

    settings.WEBHOOK_MAX_ATTEMPTS = 8
    delivered = deliver(fail_first=100, fail_status=410)
    message = delivered.message
    endpoint = message.endpoint
    other = WebhookMessage.objects.create(endpoint=endpoint, event_type="webhook.test")

    with django_capture_on_commit_callbacks(execute=True):
        state, retry = send(message)

    assert state == "failed"  # no retry after 410, whatever attempts are left
    retry.assert_not_called()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410 Gone" in endpoint.disabled_reason
    other.refresh_from_db()
    assert other.state == "failed"  # what was waiting for it gives up too
    assert webhooks.send_message(message_id=other.id) is None
    assert len(delivered.receiver.requests) == 1
    event = AuditEvent.objects.get(action="webhook_disabled")
    assert event.actor is None and event.target == f"webhook:{endpoint.pk}"
    [email] = mailoutbox
    assert email.to == ["ada@alpine.example"]
    assert "410 Gone" in email.body


def test_an_endpoint_failing_for_five_days_is_disabled_and_its_admins_emailed(
    deliver, settings, mailoutbox, django_capture_on_commit_callbacks, alpine
):
    from portal.models import Role
    from tests.conftest import _member

    settings.WEBHOOK_MAX_ATTEMPTS = 1000
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 5 * 24
    delivered = deliver(fail_first=100, path="?team=soc&tier=1")
    message = delivered.message
    endpoint = message.endpoint
    _member(alpine, "reader@alpine.example", Role.READER)  # not an admin: no email
    start = message.next_attempt_at

    def attempt_at(at) -> None:
        WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=at)
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.send_message(message_id=message.id, now=at) is not None
        endpoint.refresh_from_db()

    attempt_at(start)
    assert endpoint.failing_since == start and endpoint.is_active
    attempt_at(start + timedelta(days=4, hours=23))
    assert endpoint.is_active and mailoutbox == []
    attempt_at(start + timedelta(days=5))

    assert not endpoint.is_active
    assert endpoint.disabled_at == start + timedelta(days=5)
    assert "120 hours" in endpoint.disabled_reason
    message.refresh_from_db()
    assert message.state == "failed"
    [email] = mailoutbox
    assert email.to == ["ada@alpine.example"]
    assert email.subject == f"Webhook disabled: {endpoint.url}"
    assert "&tier=1" in email.subject  # subject and text are not HTML-escaped
    assert "SOC <intake>" in email.body and "&amp;" not in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert "SOC &lt;intake&gt;" in html and "team=soc&amp;tier=1" in html
    assert f"/webhooks/{endpoint.pk}/" in email.body


def test_a_success_ends_the_failure_streak(deliver, settings):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 5 * 24
    delivered = deliver(fail_first=1)
    message = delivered.message
    start = message.next_attempt_at

    webhooks.send_message(message_id=message.id, now=start)
    message.endpoint.refresh_from_db()
    assert message.endpoint.failing_since == start
    later = start + timedelta(days=6)
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=later)
    assert webhooks.send_message(message_id=message.id, now=later).state == "succeeded"
    message.endpoint.refresh_from_db()
    assert message.endpoint.failing_since is None and message.endpoint.is_active


# --- Secret rotation -----------------------------------------------------------------------


def test_after_a_rotation_old_and_new_secrets_both_sign_during_the_overlap(deliver, alpine_admin):
    from portal.audit.models import AuditEvent
    from sharing.services.webhook_operations import rotate_secret

    delivered = deliver()
    endpoint = delivered.message.endpoint
    new_secret = rotate_secret(acting_user=alpine_admin, endpoint=endpoint)

    state, _ = send(delivered.message)

    assert state == "succeeded"
    assert new_secret.startswith("whsec_") and new_secret != delivered.secret
    [request] = delivered.receiver.requests
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (delivered.secret, new_secret):  # each secret alone verifies
        assert Webhook(secret).verify(request.body, request.headers)["type"] == (
            "publication.delivered"
        )
    event = AuditEvent.objects.get(action="webhook_secret_rotated")
    assert event.actor == alpine_admin and new_secret not in str(event.detail)


def test_after_the_overlap_only_the_new_secret_signs(deliver, alpine_admin, settings):
    from standardwebhooks.webhooks import WebhookVerificationError

    from sharing.services.webhook_operations import rotate_secret

    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    delivered = deliver()
    endpoint = delivered.message.endpoint
    rotated_at = timezone.now() - timedelta(hours=24, seconds=1)
    new_secret = rotate_secret(acting_user=alpine_admin, endpoint=endpoint, now=rotated_at)

    send(delivered.message)

    [request] = delivered.receiver.requests
    assert " " not in request.headers["webhook-signature"]
    assert Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(delivered.secret).verify(request.body, request.headers)


@pytest.mark.parametrize("user", ["bob", "publisher", "charlie"])
def test_only_an_admin_of_the_organisation_rotates_a_secret(request, settings, alice, user):
    from sharing.services.webhook_operations import rotate_secret

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint, secret = register_endpoint(acting_user=alice, url="http://127.0.0.1/in")
    with pytest.raises(PermissionDenied):
        rotate_secret(acting_user=request.getfixturevalue(user), endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint_secret(endpoint) == secret and endpoint.previous_encrypted_secret == ""


# --- SSRF: IPv6 forms that embed an IPv4 address ------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a00:1]/in",  # NAT64 (RFC 6052) of 10.0.0.1
        "http://[64:ff9b::7f00:1]/in",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/in",  # NAT64 of 169.254.169.254 (metadata)
        "http://[64:ff9b:1::808:808]/in",  # local-use NAT64 (RFC 8215): always private
        "http://[2002:a00:1::1]/in",  # 6to4 (RFC 3056) of 10.0.0.1
        "http://[2002:7f00:1::1]/in",  # 6to4 of 127.0.0.1
        "http://[::10.0.0.1]/in",  # IPv4-compatible
        "http://[::127.0.0.1]/in",
        "http://[::ffff:10.0.0.1]/in",  # IPv4-mapped
        "http://[::ffff:169.254.169.254]/in",
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError, match="non-public address"):
        check_target_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://[64:ff9b::808:808]/in", "http://[2002:808:808::1]/in"],  # 8.8.8.8 behind them
)
def test_ipv6_forms_of_public_ipv4_addresses_are_accepted(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    check_target_url(url)


def test_a_refusal_does_not_reveal_what_an_internal_name_resolves_to(settings, alice):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    internal = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::a01:203", 443, 0, 0))]
    with mock.patch("socket.getaddrinfo", return_value=internal):
        with pytest.raises(ValidationError) as refused:
            register_endpoint(acting_user=alice, url="https://vault.corp.example/in")
    [message] = refused.value.messages
    assert "vault.corp.example" in message and "non-public address" in message
    for revealing in ("64:ff9b", "10.1.2.3", "a01:203"):
        assert revealing not in message
    assert WebhookEndpoint.objects.count() == 0


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(deliver):
    delivered = deliver(fail_first=1, fail_status=302)

    state, retry = send(delivered.message)

    assert state == "pending"
    retry.assert_called_once()
    attempt = delivered.message.attempt_log.get()
    assert attempt.status_code == 302 and not attempt.succeeded
    assert "redirects are not followed" in attempt.error
    assert len(delivered.receiver.requests) == 1
