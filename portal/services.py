"""Writes to the community: each function is one action, in one transaction."""

import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ledger import services as ledger_services
from portal.models import ApiToken, Organisation, Role, Sector, TokenScope, TrustGroup, User

TOKEN_PREFIX = "ctp_"


@transaction.atomic
def create_organisation(
    *, name: str, sector: str = Sector.OTHER, country: str = ""
) -> Organisation:
    """Create an organisation with its STIX identity and its Ed25519 signing key."""
    organisation = Organisation.objects.create(name=name, sector=sector, country=country.upper())
    ledger_services.create_signing_key(owner=organisation.stix_identity_id)
    return organisation


def create_member(
    *, organisation: Organisation, email: str, role: Role, password: str | None, full_name: str = ""
) -> User:
    return User.objects.create_user(
        email, password, organisation=organisation, role=role, full_name=full_name
    )


@transaction.atomic
def add_to_trust_group(*, group: TrustGroup, organisation: Organisation) -> None:
    group.members.add(organisation)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(
    *, user: User, name: str, scope: TokenScope, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret value, which is never stored or shown again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:10],
        key_hash=hash_token(raw),
        scope=scope,
        expires_at=expires_at,
    )
    return token, raw


def revoke_api_token(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def use_api_token(*, raw: str) -> ApiToken | None:
    """The usable token with this secret value (recording its use), or None."""
    token = (
        ApiToken.objects.select_related("user", "user__organisation")
        .filter(key_hash=hash_token(raw))
        .first()
    )
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    # Record at most once a minute: a busy client must not turn every request into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
