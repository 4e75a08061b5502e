"""Personal API tokens: created by their owners, never wider than the owner's role allows.

A token's scope is capped by `permissions.max_token_scope`: a reader's token is read-only, and
a publish token needs an enrolled second factor (the API is as privileged as the pages). When
a member is demoted, `cut_tokens_to_role` narrows their tokens in the same transaction.
"""

import hashlib
import secrets
from datetime import datetime

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import permissions
from portal.audit.models import AuditAction
from portal.models import ApiToken, TokenScope, User
from portal.services._audit import audit
from portal.services.organisations import OrganisationSuspended

TOKEN_PREFIX = "ctp_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_api_token(
    *,
    user: User,
    name: str,
    scope: TokenScope,
    expires_at: datetime | None = None,
    dangerously_skip_second_factor: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret value, which is never stored or shown again.

    Refuses a scope wider than the user's role and, while MFA_REQUIRED_FOR_PRIVILEGED is on, a
    publish token for a user without a second factor. Only operator commands run on the server
    itself (demo data, benchmarks) may skip that second check.
    """
    if not name.strip():
        raise ValidationError("Give the token a name.")
    if scope not in TokenScope.values:
        raise ValidationError("The scope must be read or publish.")
    if scope == TokenScope.PUBLISH and permissions.max_token_scope(user) != TokenScope.PUBLISH:
        raise ValidationError("Your role allows read tokens only.")
    if (
        scope == TokenScope.PUBLISH
        and settings.MFA_REQUIRED_FOR_PRIVILEGED
        and not dangerously_skip_second_factor
        and not is_mfa_enabled(user)
    ):
        raise ValidationError(
            "Set up a second factor (Account security) before creating a publish token."
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip(),
        prefix=raw[:10],
        key_hash=hash_token(raw),
        scope=scope,
        expires_at=expires_at,
    )
    audit(
        action=AuditAction.TOKEN_CREATED,
        actor=user,
        organisation=user.organisation,
        target=f"token:{token.pk}",
        detail={"name": token.name, "scope": scope},
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, token: ApiToken, acting_user: User) -> None:
    """Revoke one token: its owner may, and so may an admin of the owner's organisation or a
    platform admin. Revoking twice changes nothing."""
    if acting_user.pk != token.user_id and not permissions.is_platform_admin(acting_user):
        permissions.require_org_admin(acting_user, token.user.organisation_id)
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if changed:
        audit(
            action=AuditAction.TOKEN_REVOKED,
            actor=acting_user,
            organisation=token.user.organisation,
            target=f"token:{token.pk}",
            detail={"name": token.name, "owner": token.user.email},
        )


@transaction.atomic
def revoke_member_tokens(*, acting_user: User, member: User) -> int:
    """Revoke every usable token of a member of the acting admin's organisation; how many."""
    permissions.require_org_admin(acting_user, member.organisation_id)
    tokens = list(ApiToken.objects.filter(user=member, revoked_at__isnull=True))
    for token in tokens:
        revoke_api_token(token=token, acting_user=acting_user)
    return len(tokens)


def cut_tokens_to_role(*, acting_user: User, member: User) -> int:
    """Narrow the member's tokens to what their (new) role allows; how many changed. Runs in
    the caller's transaction (a role change)."""
    allowed = permissions.max_token_scope(member)
    if allowed == TokenScope.PUBLISH:
        return 0
    tokens = list(
        ApiToken.objects.filter(user=member, scope=TokenScope.PUBLISH, revoked_at__isnull=True)
    )
    for token in tokens:
        ApiToken.objects.filter(pk=token.pk).update(scope=allowed)
        audit(
            action=AuditAction.TOKEN_SCOPE_REDUCED,
            actor=acting_user,
            organisation=member.organisation,
            target=f"token:{token.pk}",
            detail={"name": token.name, "owner": member.email, "to": allowed},
        )
    return len(tokens)


def use_api_token(*, raw: str) -> ApiToken | None:
    """The usable token with this secret value (recording its use), or None. Raises
    OrganisationSuspended for a usable token of a member of a suspended organisation: the
    caller answers with its message rather than "invalid token"."""
    token = (
        ApiToken.objects.select_related("user", "user__organisation")
        .filter(key_hash=hash_token(raw))
        .first()
    )
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    organisation = token.user.organisation
    if organisation is not None and organisation.suspended_at is not None:
        raise OrganisationSuspended(organisation)
    now = timezone.now()
    # Record at most once a minute: a busy client must not turn every request into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
