"""The key directory: portal-held keys, organisation-held keys, and key transparency.

Every change of the directory (a portal-held key created, an organisation's own key
registered, a key rotated out or revoked) is sealed as an entry of the same append-only log as
the published items, with the platform's key, and anchored with the next checkpoint (DESIGN.md,
"Trust model"). The sealed payload (``event_payload``) binds the owner's identity, the key id,
the public key, its custody and its validity window, so the directory a verifier pins can be
compared with what the log holds; nobody, the operator included, can add or revoke a key
without leaving a trace on the chain.

Permissions are the caller's business (portal.services.organisation_keys): the ledger knows
no users, only opaque owner labels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ledger import services, signing, tasks
from ledger.models import Custody, KeyEvent, KeyEventKind, SigningKey

PLATFORM_OWNER = "platform"
KEY_EVENT_TYPE = "cti-portal-key-event"
KEY_EVENT_VERSION = 1


class KeyRegistrationError(ValueError):
    """A key cannot be registered, rotated or revoked; ``str()`` says why, for the user."""


def event_payload(key: SigningKey, *, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """The JSON sealed for one key event: strings only (RFC 8785 form without numbers), times
    in RFC 3339 UTC."""
    payload = {
        "type": KEY_EVENT_TYPE,
        "version": str(KEY_EVENT_VERSION),
        "event": kind,
        "at": _iso(at),
        "organisation": key.owner,
        "key_id": key.key_id,
        "public_key": bytes(key.public_key).hex(),
        "custody": key.custody,
        "valid_from": _iso(key.valid_from),
        "valid_until": _iso(key.valid_until) if key.valid_until else None,
        "revoked_at": _iso(key.revoked_at) if key.revoked_at else None,
    }
    payload.update({name: value for name, value in extra.items() if value not in (None, "")})
    return payload


def event_subject(kind: str, key: SigningKey) -> str:
    """The subject a key event is sealed under, e.g. ``key-registered:ed25519:…``."""
    return f"key-{kind}:{key.key_id}"


def record_event(key: SigningKey, *, kind: KeyEventKind, at: datetime, **extra: Any) -> KeyEvent:
    """Seal one key event with the platform's key, in the caller's transaction; the ledger's
    anchor task runs once it commits."""
    payload = event_payload(key, kind=kind, at=at, **extra)
    sealer = key if key.owner == PLATFORM_OWNER and key.is_portal_held else platform_signing_key()
    entry = services.seal(payload=payload, subject=event_subject(kind, key), signing_key=sealer)
    event = KeyEvent.objects.create(signing_key=key, kind=kind, payload=payload, entry=entry)
    transaction.on_commit(tasks.anchor.delay)
    return event


@transaction.atomic
def create_portal_key(*, owner: str) -> SigningKey:
    """Generate a portal-held key for ``owner`` (its private half stored encrypted) and seal its
    creation in the log."""
    key = services.create_signing_key(owner=owner)
    record_event(key, kind=KeyEventKind.CREATED, at=key.created_at)
    return key


def platform_signing_key() -> SigningKey:
    """The portal's own Ed25519 key (audit anchors, key events), created on first use."""
    try:
        return services.active_signing_key(owner=PLATFORM_OWNER)
    except SigningKey.DoesNotExist:
        return create_portal_key(owner=PLATFORM_OWNER)


@transaction.atomic
def register_key(
    *, owner: str, public_key: str | bytes, registered_by: str, at: datetime | None = None
) -> SigningKey:
    """Register an organisation-held Ed25519 public key (64 hex digits, a PEM block, or raw
    bytes) for ``owner``, valid from ``at`` (default now), and seal the registration.

    Raises KeyRegistrationError for a malformed key, a key already registered (for this owner
    or another one); nothing is stored then.
    """
    try:
        raw = (
            signing.parse_public_key(public_key)
            if isinstance(public_key, str)
            else bytes(public_key)
        )
        key_id = signing.key_id(raw)
    except ValueError as exc:
        raise KeyRegistrationError(str(exc)) from None
    existing = SigningKey.objects.filter(Q(key_id=key_id) | Q(public_key=raw)).first()
    if existing is not None and existing.owner == owner:
        raise KeyRegistrationError(f"key {key_id} is already registered for your organisation")
    if existing is not None:
        # Same message whoever holds it: which organisation is none of the caller's business.
        raise KeyRegistrationError(
            f"key {key_id} is already registered by another organisation; a key belongs to one "
            f"organisation only"
        )
    moment = at or timezone.now()
    key = SigningKey.objects.create(
        owner=owner,
        key_id=key_id,
        public_key=raw,
        custody=Custody.ORGANISATION,
        encrypted_private_key="",
        valid_from=moment,
        registered_by=registered_by[:254],
    )
    record_event(key, kind=KeyEventKind.REGISTERED, at=moment)
    return key


@transaction.atomic
def rotate_key(
    *,
    key: SigningKey,
    new_public_key: str | bytes,
    registered_by: str,
    at: datetime | None = None,
) -> SigningKey:
    """Register a new organisation-held key for the old key's owner and end the old key's
    window at ``at`` (default now); both are sealed. Old signatures stay verifiable: the old key
    stays in the directory with its window. Raises KeyRegistrationError (nothing stored) for a
    revoked or already ended old key, an end time before the old key's start, or a bad new key.
    """
    moment = at or timezone.now()
    old = SigningKey.objects.select_for_update().get(pk=key.pk)
    if old.revoked_at is not None:
        raise KeyRegistrationError(f"key {old.key_id} is revoked; register a new key instead")
    if old.valid_until is not None and old.valid_until <= moment:
        raise KeyRegistrationError(f"key {old.key_id} already ended at {_iso(old.valid_until)}")
    if moment < old.valid_from:
        raise KeyRegistrationError(
            f"the rotation time {_iso(moment)} is before key {old.key_id} became valid"
        )
    new = register_key(
        owner=old.owner, public_key=new_public_key, registered_by=registered_by, at=moment
    )
    old.valid_until = moment
    old.save(update_fields=["valid_until"])
    record_event(old, kind=KeyEventKind.ROTATED, at=moment, replaced_by=new.key_id)
    return new


@transaction.atomic
def revoke_key(*, key: SigningKey, reason: str, at: datetime | None = None) -> SigningKey:
    """Revoke a key from ``at`` (default now) for ``reason`` and seal the revocation: signatures
    anchored from then on no longer verify. Raises KeyRegistrationError (nothing stored) without
    a reason or for a key already revoked."""
    reason = (reason or "").strip()
    if not reason:
        raise KeyRegistrationError("give the reason for the revocation")
    locked = SigningKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is not None:
        raise KeyRegistrationError(f"key {locked.key_id} was already revoked")
    locked.revoked_at = at or timezone.now()
    locked.revocation_reason = reason[:500]
    locked.save(update_fields=["revoked_at", "revocation_reason"])
    record_event(locked, kind=KeyEventKind.REVOKED, at=locked.revoked_at, reason=reason[:500])
    return locked


def usable_organisation_keys(*, owner: str, at: datetime | None = None) -> QuerySet[SigningKey]:
    """The owner's organisation-held keys that may sign at ``at`` (default now): inside their
    window and not revoked."""
    moment = at or timezone.now()
    return SigningKey.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=moment),
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=moment),
        owner=owner,
        custody=Custody.ORGANISATION,
        valid_from__lte=moment,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
