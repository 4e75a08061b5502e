"""Invitations and members: who belongs to an organisation, with which role.

`invite_member` answers alike whether or not the address has an account elsewhere (an org
admin must not learn who belongs to other tenants): the invitation row exists either way, and
the address owner gets either the link or a note that their account already exists.
"""

import secrets
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import emails, permissions
from portal.audit.models import AuditAction
from portal.models import Invitation, Organisation, Role, User
from portal.services._audit import audit
from portal.services.tokens import cut_tokens_to_role, hash_token


def send_invitation(
    *, organisation: Organisation, email: str, role: Role, invited_by: User | None
) -> tuple[Invitation, str]:
    """Store an invitation and email its link (or, for an address that already has an
    account, a note saying so: such an invitation can never be accepted)."""
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        token_hash=hash_token(raw),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit(
        action=AuditAction.INVITATION_SENT,
        actor=invited_by,
        organisation=organisation,
        target=f"invitation:{invitation.pk}",
        detail={"email": email, "role": Role(role).label},
    )
    has_account = User.objects.filter(email__iexact=email).exists()
    emails.send(
        to=[email],
        template="invitation_existing_account" if has_account else "invitation",
        context={"invitation": invitation, "token": raw, "role": Role(role).label},
    )
    return invitation, raw


@transaction.atomic
def invite_member(*, acting_user: User, email: str, role: int) -> tuple[Invitation, str]:
    """Invite someone to the acting admin's organisation. Returns the invitation and token.

    Refuses only what the admin can see anyway: an address of their own organisation's members
    or one with an open invitation of theirs.
    """
    permissions.require_org_admin(acting_user)
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError("Choose a role: reader, publisher or organisation admin.")
    organisation = acting_user.organisation
    if organisation.members.filter(email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {organisation}.")
    open_invitations = Invitation.objects.filter(
        organisation=organisation,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if open_invitations.exists():
        raise ValidationError(f"{email} already has an open invitation; revoke it first.")
    return send_invitation(
        organisation=organisation, email=email, role=role, invited_by=acting_user
    )


@transaction.atomic
def revoke_invitation(*, acting_user: User, invitation: Invitation) -> None:
    permissions.require_org_admin(acting_user, invitation.organisation_id)
    changed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not changed:
        raise ValidationError("This invitation was already used or revoked.")
    audit(
        action=AuditAction.INVITATION_REVOKED,
        actor=acting_user,
        organisation=invitation.organisation,
        target=f"invitation:{invitation.pk}",
        detail={"email": invitation.email},
    )


def open_invitation(*, raw_token: str) -> Invitation:
    """The invitation a link points to; ValidationError if unknown, used, revoked or expired."""
    invitation = (
        Invitation.objects.select_related("organisation")
        .filter(token_hash=hash_token(raw_token))
        .first()
    )
    if invitation is None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation was already used.")
    if invitation.revoked_at is not None:
        raise ValidationError("This invitation was revoked.")
    if invitation.expires_at <= timezone.now():
        raise ValidationError("This invitation has expired; ask for a new one.")
    return invitation


@transaction.atomic
def accept_invitation(*, raw_token: str, full_name: str, password: str) -> User:
    """Create the invited account (single use). The email address counts as verified: the
    invitation was sent to it."""
    invitation = open_invitation(raw_token=raw_token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation was already used.")
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError(f"{invitation.email} already has an account.")
    user = User.objects.create_user(
        invitation.email,
        password,
        organisation=invitation.organisation,
        role=invitation.role,
        full_name=full_name.strip(),
    )
    if apps.is_installed("allauth.account"):
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit(
        action=AuditAction.INVITATION_ACCEPTED,
        actor=user,
        organisation=invitation.organisation,
        target=f"user:{user.pk}",
        detail={"role": Role(invitation.role).label},
    )
    return user


def _ensure_another_admin(member: User) -> None:
    """Refuse to leave an organisation without an active org admin."""
    if member.role < Role.ORG_ADMIN or not member.is_active:
        return
    others = User.objects.select_for_update().filter(
        organisation=member.organisation, role=Role.ORG_ADMIN, is_active=True
    )
    if not others.exclude(pk=member.pk).exists():
        raise ValidationError("An organisation must keep at least one active organisation admin.")


@transaction.atomic
def change_role(*, acting_user: User, member: User, role: int) -> None:
    """Change a member's role; a demotion narrows their API tokens to the new role."""
    permissions.require_org_admin(acting_user, member.organisation_id)
    if role not in Role.values:
        raise ValidationError("Choose a role: reader, publisher or organisation admin.")
    if role < Role.ORG_ADMIN:
        _ensure_another_admin(member)
    previous = member.role
    User.objects.filter(pk=member.pk).update(role=role)
    member.role = role
    audit(
        action=AuditAction.MEMBER_ROLE_CHANGED,
        actor=acting_user,
        organisation=member.organisation,
        target=f"user:{member.pk}",
        detail={"email": member.email, "from": Role(previous).label, "to": Role(role).label},
    )
    cut_tokens_to_role(acting_user=acting_user, member=member)


@transaction.atomic
def set_member_active(*, acting_user: User, member: User, active: bool) -> None:
    """Deactivate or reactivate a member. A deactivated member's sessions and tokens stop
    working at the next request: authentication refuses inactive users."""
    permissions.require_org_admin(acting_user, member.organisation_id)
    if not active:
        _ensure_another_admin(member)
    User.objects.filter(pk=member.pk).update(is_active=active)
    audit(
        action=AuditAction.MEMBER_REACTIVATED if active else AuditAction.MEMBER_DEACTIVATED,
        actor=acting_user,
        organisation=member.organisation,
        target=f"user:{member.pk}",
        detail={"email": member.email},
    )


@transaction.atomic
def end_member_sessions(*, acting_user: User, member: User) -> int:
    """Log a member of the acting admin's organisation out everywhere; how many sessions."""
    from allauth.usersessions.models import UserSession

    permissions.require_org_admin(acting_user, member.organisation_id)
    sessions = list(UserSession.objects.purge_and_list(member))
    for session in sessions:
        session.end()
    audit(
        action=AuditAction.SESSIONS_ENDED,
        actor=acting_user,
        organisation=member.organisation,
        target=f"user:{member.pk}",
        detail={"email": member.email, "sessions": len(sessions)},
    )
    return len(sessions)


def create_member(
    *, organisation: Organisation, email: str, role: Role, password: str | None, full_name: str = ""
) -> User:
    """A member created directly (demo data, tests); people join through invitations."""
    return User.objects.create_user(
        email, password, organisation=organisation, role=role, full_name=full_name
    )
