"""An organisation's own signing keys: registered, rotated and revoked by its admins.

With an organisation-held key the organisation signs client-side (``python -m ledger.sign``)
and the portal, holding only the public key, can never sign in its name. Only organisation
admins whose session passed a second factor may change the keys: the view says whether it did
(``permissions.session_passed_second_factor``), API tokens never do. Every change is audited
here and sealed into the log by the ledger (ledger.keys, key transparency).
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from ledger import keys as ledger_keys
from ledger.models import SigningKey
from portal import permissions
from portal.audit.models import AuditAction
from portal.models import User
from portal.services._audit import audit


def _check(acting_user: User, second_factor: bool) -> None:
    permissions.require_org_admin(acting_user)
    permissions.require_second_factor(second_factor)


def _owned(acting_user: User, key: SigningKey) -> None:
    """A key of another organisation is refused as not found (the caller loads keys through
    portal.selectors.access_signing_key, so this only guards direct calls)."""
    if key.owner != acting_user.organisation.stix_identity_id:
        raise Http404("No such key.")
    if key.is_portal_held:
        raise ValidationError(
            "The portal-held key signs what members publish in the browser; it is managed by the "
            "platform. Only your organisation's own keys can be rotated or revoked here."
        )


@transaction.atomic
def register_organisation_key(
    *, acting_user: User, public_key: str, second_factor: bool
) -> SigningKey:
    """Register an Ed25519 public key (64 hex digits or PEM) of the acting admin's organisation.

    Raises PermissionDenied for a non-admin or a session without a second factor, and
    ValidationError for a malformed key or one already registered (nothing is written).
    """
    _check(acting_user, second_factor)
    organisation = acting_user.organisation
    try:
        key = ledger_keys.register_key(
            owner=organisation.stix_identity_id,
            public_key=public_key,
            registered_by=acting_user.email,
        )
    except ledger_keys.KeyRegistrationError as exc:
        raise ValidationError(str(exc)) from None
    audit(
        action=AuditAction.SIGNING_KEY_REGISTERED,
        actor=acting_user,
        organisation=organisation,
        target=f"key:{key.key_id}",
        detail={"key_id": key.key_id, "custody": key.custody},
    )
    return key


@transaction.atomic
def rotate_organisation_key(
    *,
    acting_user: User,
    key: SigningKey,
    new_public_key: str,
    second_factor: bool,
    at: datetime | None = None,
) -> SigningKey:
    """Register ``new_public_key`` and end ``key``'s window at ``at`` (default now). Returns the
    new key. Same refusals as register_organisation_key, and ValidationError for a portal-held,
    revoked or ended key."""
    _check(acting_user, second_factor)
    _owned(acting_user, key)
    try:
        new = ledger_keys.rotate_key(
            key=key, new_public_key=new_public_key, registered_by=acting_user.email, at=at
        )
    except ledger_keys.KeyRegistrationError as exc:
        raise ValidationError(str(exc)) from None
    audit(
        action=AuditAction.SIGNING_KEY_ROTATED,
        actor=acting_user,
        organisation=acting_user.organisation,
        target=f"key:{key.key_id}",
        detail={"key_id": key.key_id, "replaced_by": new.key_id},
    )
    return new


@transaction.atomic
def revoke_organisation_key(
    *,
    acting_user: User,
    key: SigningKey,
    reason: str,
    second_factor: bool,
    at: datetime | None = None,
) -> SigningKey:
    """Revoke ``key`` from ``at`` (default now) for ``reason``. Same refusals as
    rotate_organisation_key, and ValidationError without a reason or for a revoked key."""
    _check(acting_user, second_factor)
    _owned(acting_user, key)
    try:
        revoked = ledger_keys.revoke_key(key=key, reason=reason, at=at)
    except ledger_keys.KeyRegistrationError as exc:
        raise ValidationError(str(exc)) from None
    audit(
        action=AuditAction.SIGNING_KEY_REVOKED,
        actor=acting_user,
        organisation=acting_user.organisation,
        target=f"key:{key.key_id}",
        detail={"key_id": key.key_id, "reason": revoked.revocation_reason},
    )
    return revoked
