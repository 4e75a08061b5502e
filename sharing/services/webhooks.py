"""Outgoing webhooks per the Standard Webhooks specification.

Each (endpoint, publication) pair is a WebhookMessage row; each POST an attempt row. A message is
claimed with a conditional UPDATE, so two workers never send the same attempt, and a failed
attempt schedules the next one with backoff until WEBHOOK_MAX_ATTEMPTS.
"""

import base64
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from ledger.signing import decrypt_secret, encrypt_secret
from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import User
from sharing.models import (
    Publication,
    PublishedObject,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageState,
)
from sharing.transports.base import TransportError

logger = logging.getLogger(__name__)

EVENT_TYPE = "publication.delivered"
SECRET_INFO = b"cti-portal:webhook-secret-encryption:v1"


class DeliveryError(TransportError):
    """A POST failed; `permanent` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


# --- Endpoints ---------------------------------------------------------------------------


def register_endpoint(
    *, acting_user: User, url: str, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint for the user's organisation.

    Returns the endpoint and its signing secret, which is shown once and never again.
    Raises PermissionDenied for non-admins and ValidationError for an unacceptable URL.
    """
    permissions.require(
        permissions.can_administer_organisation(acting_user),
        "Only organisation admins may manage webhooks.",
    )
    check_target_url(url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organisation=acting_user.organisation,
            url=url,
            description=description[:200],
            encrypted_secret=encrypt_secret(
                secret.encode(), secret=settings.ENCRYPTION_SECRET, info=SECRET_INFO
            ),
            created_by=acting_user,
        )
        audit.record(
            action=AuditAction.WEBHOOK_REGISTERED,
            actor=acting_user,
            organisation=endpoint.organisation,
            target=f"webhook:{endpoint.pk}",
            detail={"url": url},
        )
    return endpoint, secret


def remove_endpoint(*, acting_user: User, endpoint: WebhookEndpoint) -> None:
    permissions.require(
        permissions.can_administer_organisation(acting_user),
        "Only organisation admins may manage webhooks.",
    )
    with transaction.atomic():
        audit.record(
            action=AuditAction.WEBHOOK_REMOVED,
            actor=acting_user,
            organisation=endpoint.organisation,
            target=f"webhook:{endpoint.pk}",
            detail={"url": endpoint.url},
        )
        endpoint.delete()


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    token = endpoint.encrypted_secret
    return decrypt_secret(token, secret=settings.ENCRYPTION_SECRET, info=SECRET_INFO).decode()


@dataclass(frozen=True)
class Target:
    """Where a webhook POST goes: the address it was checked against, and the names to send."""

    scheme: str
    hostname: str
    port: int
    address: str
    path: str

    @property
    def host_header(self) -> str:
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        default_port = 443 if self.scheme == "https" else 80
        return name if self.port == default_port else f"{name}:{self.port}"


def check_target_url(url: str) -> Target:
    """Resolve a webhook URL once and refuse it when it is not http(s), carries credentials, or
    any of its addresses is private, loopback, link-local or a metadata address (unless
    WEBHOOK_ALLOW_PRIVATE_TARGETS allows it). The POST then connects to the returned address,
    never resolving the name again, so a DNS answer that changes in between (DNS rebinding)
    cannot redirect it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The webhook URL must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise ValidationError("The webhook URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError("The webhook URL has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(f"The host {parts.hostname} cannot be resolved.") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if not address.is_global:
                raise ValidationError(
                    f"The host {parts.hostname} resolves to {address}, a non-public address."
                )
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        hostname=parts.hostname,
        port=port,
        address=str(addresses[0]),
        path=f"{path}?{parts.query}" if parts.query else path,
    )


# --- Messages ----------------------------------------------------------------------------


def payload_for(publication: Publication, items: list | None = None) -> dict[str, Any]:
    """The JSON body of a delivery: the STIX objects, each with its receipt."""
    organisation = publication.organisation
    if items is None:
        items = list(publication.items.all())
    return {
        "type": EVENT_TYPE,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": {
            "publication": {
                "id": publication.id,
                "title": publication.title,
                "tlp": publication.tlp,
                "distribution": publication.distribution,
                "bundle_id": publication.bundle_id,
                "created": publication.created_at.isoformat().replace("+00:00", "Z"),
                "publisher": {
                    "name": organisation.name,
                    "identity": organisation.stix_identity_id,
                },
            },
            "items": [{"object": obj.body, "receipt": obj.receipt} for obj in items],
        },
    }


@dataclass(frozen=True)
class SendOutcome:
    """A message's state after an attempt, and in how many seconds to try again (if at all)."""

    state: str
    retry_in: int | None


def send_message(*, message_id: int) -> SendOutcome | None:
    """Attempt one POST of a due message. Returns the outcome, or None if not claimed."""
    return send_messages(message_ids=[message_id]).get(message_id)


def send_messages(*, message_ids: list[int]) -> dict[int, SendOutcome]:
    """Attempt one POST of each due message among `message_ids`, concurrently (at most
    WEBHOOK_CONCURRENCY at a time). Returns the outcome of each message this call claimed;
    a message another sender holds, or not yet due, is left alone.

    Claiming moves `next_attempt_at` a lease ahead, so no other sender takes the message
    while it is being posted. Each publication's body is built once for all its endpoints.
    The caller schedules retries (sharing.tasks); a lost retry is found by the sweeper, since
    the row's `next_attempt_at` already says when it is due.
    """
    now = timezone.now()
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
    with transaction.atomic():
        claimed = list(
            WebhookMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(id__in=message_ids, state=WebhookMessageState.PENDING, next_attempt_at__lte=now)
            .values_list("id", flat=True)
        )
        WebhookMessage.objects.filter(id__in=claimed).update(
            attempts=F("attempts") + 1, next_attempt_at=now + lease
        )
    if not claimed:
        return {}
    messages = list(
        WebhookMessage.objects.select_related(
            "endpoint", "publication", "publication__organisation"
        ).filter(id__in=claimed)
    )
    items_of: dict[int, list] = {}
    for item in PublishedObject.objects.filter(
        publication_id__in={m.publication_id for m in messages}
    ).only("publication_id", "body", "receipt"):
        items_of.setdefault(item.publication_id, []).append(item)
    publications = {m.publication_id: m.publication for m in messages}
    bodies = {
        publication_id: json.dumps(
            payload_for(publications[publication_id], items), separators=(",", ":")
        )
        for publication_id, items in items_of.items()
    }

    def attempt(message: WebhookMessage) -> tuple[WebhookAttempt, bool]:
        started = time.monotonic()
        record = WebhookAttempt(message=message, number=message.attempts, started_at=now)
        permanent = False
        try:
            record.status_code = _post(message, bodies.get(message.publication_id))
            record.succeeded = True
        except DeliveryError as exc:
            record.status_code = exc.status_code
            record.error = str(exc)[:2000]
            permanent = exc.permanent
        record.duration_ms = int((time.monotonic() - started) * 1000)
        return record, permanent

    with ThreadPoolExecutor(min(len(messages), settings.WEBHOOK_CONCURRENCY)) as pool:
        attempts = list(pool.map(attempt, messages))
    return _record_attempts(messages, attempts)


def _record_attempts(
    messages: list[WebhookMessage], attempts: list[tuple[WebhookAttempt, bool]]
) -> dict[int, SendOutcome]:
    """Store the attempts and each message's new state, a few queries for the whole batch."""
    outcomes: dict[int, SendOutcome] = {}
    succeeded, given_up, retry_at = [], [], defaultdict(list)
    now = timezone.now()
    for message, (record, permanent) in zip(messages, attempts, strict=True):
        if record.succeeded:
            succeeded.append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.SUCCEEDED, None)
        elif permanent or message.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            given_up.append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.FAILED, None)
        else:
            delay = retry_delay(message.attempts)
            retry_at[delay].append(message.id)
            outcomes[message.id] = SendOutcome(WebhookMessageState.PENDING, delay)
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create([record for record, _ in attempts])
        WebhookMessage.objects.filter(id__in=succeeded).update(
            state=WebhookMessageState.SUCCEEDED, succeeded_at=now
        )
        WebhookMessage.objects.filter(id__in=given_up).update(state=WebhookMessageState.FAILED)
        for delay, ids in retry_at.items():
            WebhookMessage.objects.filter(id__in=ids).update(
                next_attempt_at=now + timedelta(seconds=delay)
            )
    return outcomes


def retry_delay(attempts_made: int) -> int:
    delays = settings.WEBHOOK_RETRY_DELAYS
    return delays[min(attempts_made, len(delays)) - 1]


def _post(message: WebhookMessage, body: str | None = None) -> int:
    endpoint = message.endpoint
    try:
        target = check_target_url(endpoint.url)
    except ValidationError as exc:
        raise DeliveryError(" ".join(exc.messages), permanent=True) from None
    if body is None:
        body = json.dumps(payload_for(message.publication), separators=(",", ":"))
    sent_at = datetime.now(tz=UTC)
    signature = Webhook(endpoint_secret(endpoint)).sign(message.message_id, sent_at, body)
    headers = {
        "host": target.host_header,
        "content-type": "application/json",
        "user-agent": "cti-portal-webhooks/1",
        "webhook-id": message.message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    timeout = urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT_SECONDS)
    if target.scheme == "https":
        # Connect to the checked address; TLS still verifies the certificate for the name.
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
            ssl_context=ssl.create_default_context(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False
        )
    try:
        with pool:
            response = pool.urlopen(
                "POST", target.path, body=body.encode(), headers=headers, redirect=False
            )
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryError(f"request failed: {exc}") from None
    if not 200 <= response.status < 300:
        raise DeliveryError(
            f"endpoint answered HTTP {response.status}", status_code=response.status
        )
    return response.status
