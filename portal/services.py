"""Writes to the community: each function is one action, in one transaction, with its audit row.

Every function takes the acting user keyword-only, checks what that user may do through
portal.permissions, and raises ValidationError with a clear message for bad input (nothing is
written then).
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ledger import services as ledger_services
from portal import emails, permissions
from portal.models import (
    ApiToken,
    Invitation,
    JoinRequest,
    Organisation,
    RequestState,
    Role,
    Sector,
    TokenScope,
    TrustGroup,
    TrustGroupJoinRequest,
    User,
)

TOKEN_PREFIX = "ctp_"


def _audit(**fields) -> None:
    from portal.audit.services import record

    record(**fields)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- Organisations and onboarding --------------------------------------------------------


@transaction.atomic
def create_organisation(
    *, name: str, sector: str = Sector.OTHER, country: str = "", acting_user: User | None = None
) -> Organisation:
    """Create an organisation with its STIX identity and its Ed25519 signing key."""
    if Organisation.objects.filter(name__iexact=name.strip()).exists():
        raise ValidationError(f"An organisation named {name!r} already exists.")
    organisation = Organisation.objects.create(
        name=name.strip(), sector=sector, country=country.upper()
    )
    ledger_services.create_signing_key(owner=organisation.stix_identity_id)
    _audit(
        action="organisation_created",
        actor=acting_user,
        organisation=organisation,
        target=f"organisation:{organisation.pk}",
        detail={"name": organisation.name},
    )
    return organisation


@transaction.atomic
def submit_join_request(
    *,
    organisation_name: str,
    sector: str,
    country: str,
    contact_name: str,
    contact_email: str,
    justification: str,
    ip: str | None = None,
) -> JoinRequest:
    """Record an organisation's request to join. Refuses duplicates with a clear reason."""
    name, email = organisation_name.strip(), contact_email.strip().lower()
    if Organisation.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"{name} is already a member of the community.")
    pending = JoinRequest.objects.filter(state=RequestState.PENDING)
    if pending.filter(organisation_name__iexact=name).exists():
        raise ValidationError(f"A request for {name} is already waiting for review.")
    if pending.filter(contact_email__iexact=email).exists():
        raise ValidationError(f"A request from {email} is already waiting for review.")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(f"{email} already has an account.")
    join_request = JoinRequest.objects.create(
        organisation_name=name,
        sector=sector,
        country=country.upper(),
        contact_name=contact_name.strip(),
        contact_email=email,
        justification=justification.strip(),
    )
    _audit(
        action="join_request_submitted",
        target=f"join_request:{join_request.pk}",
        detail={"organisation": name, "contact": email},
        ip=ip,
    )
    return join_request


def _decidable(acting_user: User, join_request: JoinRequest) -> JoinRequest:
    permissions.require(permissions.is_platform_admin(acting_user), "Only platform admins decide.")
    locked = JoinRequest.objects.select_for_update().get(pk=join_request.pk)
    if locked.state != RequestState.PENDING:
        raise ValidationError(f"This request was already {locked.get_state_display().lower()}.")
    return locked


@transaction.atomic
def approve_join_request(*, acting_user: User, join_request: JoinRequest) -> Organisation:
    """Create the organisation and invite its contact to become its first org admin."""
    join_request = _decidable(acting_user, join_request)
    organisation = create_organisation(
        name=join_request.organisation_name,
        sector=join_request.sector,
        country=join_request.country,
        acting_user=acting_user,
    )
    join_request.state = RequestState.APPROVED
    join_request.decided_at = timezone.now()
    join_request.decided_by = acting_user
    join_request.organisation = organisation
    join_request.save()
    _audit(
        action="join_request_approved",
        actor=acting_user,
        organisation=organisation,
        target=f"join_request:{join_request.pk}",
    )
    _send_invitation(
        organisation=organisation,
        email=join_request.contact_email,
        role=Role.ORG_ADMIN,
        invited_by=acting_user,
    )
    return organisation


@transaction.atomic
def reject_join_request(*, acting_user: User, join_request: JoinRequest, reason: str) -> None:
    if not reason.strip():
        raise ValidationError("Give the reason for the rejection: it is sent to the contact.")
    join_request = _decidable(acting_user, join_request)
    join_request.state = RequestState.REJECTED
    join_request.decided_at = timezone.now()
    join_request.decided_by = acting_user
    join_request.decision_reason = reason.strip()
    join_request.save()
    _audit(
        action="join_request_rejected",
        actor=acting_user,
        target=f"join_request:{join_request.pk}",
        detail={"reason": join_request.decision_reason},
    )
    emails.send(
        to=[join_request.contact_email],
        template="join_rejected",
        context={"request": join_request},
    )


# --- Invitations and members -------------------------------------------------------------


def _send_invitation(
    *, organisation: Organisation, email: str, role: Role, invited_by: User | None
) -> tuple[Invitation, str]:
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        token_hash=hash_token(raw),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    _audit(
        action="invitation_sent",
        actor=invited_by,
        organisation=organisation,
        target=f"invitation:{invitation.pk}",
        detail={"email": email, "role": Role(role).label},
    )
    emails.send(
        to=[email],
        template="invitation",
        context={"invitation": invitation, "token": raw, "role": Role(role).label},
    )
    return invitation, raw


@transaction.atomic
def invite_member(*, acting_user: User, email: str, role: int) -> tuple[Invitation, str]:
    """Invite someone to the acting admin's organisation. Returns the invitation and token."""
    permissions.require(
        permissions.can_administer_organisation(acting_user),
        "Only organisation admins may invite members.",
    )
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError("Choose a role: reader, publisher or organisation admin.")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(f"{email} already has an account.")
    open_invitations = Invitation.objects.filter(
        organisation=acting_user.organisation,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if open_invitations.exists():
        raise ValidationError(f"{email} already has an open invitation; revoke it first.")
    return _send_invitation(
        organisation=acting_user.organisation, email=email, role=role, invited_by=acting_user
    )


@transaction.atomic
def revoke_invitation(*, acting_user: User, invitation: Invitation) -> None:
    permissions.require(
        permissions.can_administer_organisation(acting_user)
        and invitation.organisation_id == acting_user.organisation_id,
        "Only organisation admins may revoke invitations.",
    )
    changed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not changed:
        raise ValidationError("This invitation was already used or revoked.")
    _audit(
        action="invitation_revoked",
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
    _audit(
        action="invitation_accepted",
        actor=user,
        organisation=invitation.organisation,
        target=f"user:{user.pk}",
        detail={"role": Role(invitation.role).label},
    )
    return user


def _manageable(acting_user: User, member: User) -> None:
    permissions.require(
        permissions.can_administer_organisation(acting_user)
        and member.organisation_id == acting_user.organisation_id,
        "Only organisation admins may manage members.",
    )


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
    _manageable(acting_user, member)
    if role not in Role.values:
        raise ValidationError("Choose a role: reader, publisher or organisation admin.")
    if role < Role.ORG_ADMIN:
        _ensure_another_admin(member)
    previous = member.role
    User.objects.filter(pk=member.pk).update(role=role)
    _audit(
        action="member_role_changed",
        actor=acting_user,
        organisation=member.organisation,
        target=f"user:{member.pk}",
        detail={"email": member.email, "from": Role(previous).label, "to": Role(role).label},
    )


@transaction.atomic
def set_member_active(*, acting_user: User, member: User, active: bool) -> None:
    """Deactivate or reactivate a member. A deactivated member's sessions and tokens stop
    working at the next request: authentication refuses inactive users."""
    _manageable(acting_user, member)
    if not active:
        _ensure_another_admin(member)
    User.objects.filter(pk=member.pk).update(is_active=active)
    _audit(
        action="member_reactivated" if active else "member_deactivated",
        actor=acting_user,
        organisation=member.organisation,
        target=f"user:{member.pk}",
        detail={"email": member.email},
    )


def create_member(
    *, organisation: Organisation, email: str, role: Role, password: str | None, full_name: str = ""
) -> User:
    """A member created directly (demo data, tests); people join through invitations."""
    return User.objects.create_user(
        email, password, organisation=organisation, role=role, full_name=full_name
    )


# --- Trust groups ------------------------------------------------------------------------


def _notify_group_change(group: TrustGroup, organisation: Organisation, summary: str) -> None:
    """Email the organisation's admins one sentence about a change of a group it is (or was)
    concerned by."""
    admins = organisation.members.filter(role=Role.ORG_ADMIN, is_active=True)
    recipients = list(admins.values_list("email", flat=True))
    if recipients:
        emails.send(
            to=recipients,
            template="trust_group_changed",
            context={"group": group, "organisation": organisation, "summary": summary},
        )


@transaction.atomic
def create_trust_group(*, acting_user: User, name: str, description: str = "") -> TrustGroup:
    permissions.require(
        permissions.is_platform_admin(acting_user), "Only platform admins manage trust groups."
    )
    if TrustGroup.objects.filter(name__iexact=name.strip()).exists():
        raise ValidationError(f"A trust group named {name!r} already exists.")
    group = TrustGroup.objects.create(name=name.strip(), description=description.strip())
    _audit(
        action="trust_group_created",
        actor=acting_user,
        target=f"trust_group:{group.pk}",
        detail={"name": group.name},
    )
    return group


@transaction.atomic
def update_trust_group(*, acting_user: User, group: TrustGroup, description: str) -> None:
    permissions.require(
        permissions.is_platform_admin(acting_user), "Only platform admins manage trust groups."
    )
    TrustGroup.objects.filter(pk=group.pk).update(description=description.strip())
    group.refresh_from_db()
    _audit(
        action="trust_group_changed",
        actor=acting_user,
        target=f"trust_group:{group.pk}",
        detail={"description": description.strip()},
    )
    for organisation in group.members.all():
        _notify_group_change(group, organisation, f"The description of {group} changed.")


@transaction.atomic
def add_to_trust_group(
    *, group: TrustGroup, organisation: Organisation, acting_user: User | None = None
) -> None:
    if acting_user is not None:
        permissions.require(
            permissions.is_platform_admin(acting_user), "Only platform admins manage trust groups."
        )
    if group.members.filter(pk=organisation.pk).exists():
        return
    group.members.add(organisation)
    TrustGroupJoinRequest.objects.filter(
        group=group, organisation=organisation, state=RequestState.PENDING
    ).update(state=RequestState.APPROVED, decided_at=timezone.now(), decided_by=acting_user)
    _audit(
        action="trust_group_member_added",
        actor=acting_user,
        organisation=organisation,
        target=f"trust_group:{group.pk}",
        detail={"group": group.name, "organisation": organisation.name},
    )
    _notify_group_change(group, organisation, f"{organisation} was added to {group}.")


@transaction.atomic
def remove_from_trust_group(
    *, acting_user: User, group: TrustGroup, organisation: Organisation
) -> None:
    permissions.require(
        permissions.is_platform_admin(acting_user), "Only platform admins manage trust groups."
    )
    if not group.members.filter(pk=organisation.pk).exists():
        raise ValidationError(f"{organisation} is not a member of {group}.")
    group.members.remove(organisation)
    _audit(
        action="trust_group_member_removed",
        actor=acting_user,
        organisation=organisation,
        target=f"trust_group:{group.pk}",
        detail={"group": group.name, "organisation": organisation.name},
    )
    _notify_group_change(group, organisation, f"{organisation} was removed from {group}.")


@transaction.atomic
def request_trust_group_membership(
    *, acting_user: User, group: TrustGroup, message: str = ""
) -> TrustGroupJoinRequest:
    permissions.require(
        permissions.can_administer_organisation(acting_user),
        "Only organisation admins may ask to join a trust group.",
    )
    organisation = acting_user.organisation
    if group.members.filter(pk=organisation.pk).exists():
        raise ValidationError(f"{organisation} is already a member of {group}.")
    if TrustGroupJoinRequest.objects.filter(
        group=group, organisation=organisation, state=RequestState.PENDING
    ).exists():
        raise ValidationError(f"A request to join {group} is already waiting for review.")
    join = TrustGroupJoinRequest.objects.create(
        group=group, organisation=organisation, requested_by=acting_user, message=message.strip()
    )
    _audit(
        action="trust_group_join_requested",
        actor=acting_user,
        organisation=organisation,
        target=f"trust_group:{group.pk}",
        detail={"group": group.name},
    )
    return join


@transaction.atomic
def reject_trust_group_request(*, acting_user: User, join: TrustGroupJoinRequest) -> None:
    permissions.require(
        permissions.is_platform_admin(acting_user), "Only platform admins manage trust groups."
    )
    changed = TrustGroupJoinRequest.objects.filter(pk=join.pk, state=RequestState.PENDING).update(
        state=RequestState.REJECTED, decided_at=timezone.now(), decided_by=acting_user
    )
    if not changed:
        raise ValidationError("This request was already decided.")
    _audit(
        action="trust_group_changed",
        actor=acting_user,
        organisation=join.organisation,
        target=f"trust_group:{join.group_id}",
        detail={"rejected_request_of": join.organisation.name},
    )
    _notify_group_change(
        join.group, join.organisation, f"{join.organisation} was not admitted to {join.group}."
    )


# --- API tokens --------------------------------------------------------------------------


@transaction.atomic
def create_api_token(
    *, user: User, name: str, scope: TokenScope, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret value, which is never stored or shown again."""
    if not name.strip():
        raise ValidationError("Give the token a name.")
    if scope not in TokenScope.values:
        raise ValidationError("The scope must be read or publish.")
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
    _audit(
        action="token_created",
        actor=user,
        organisation=user.organisation,
        target=f"token:{token.pk}",
        detail={"name": token.name, "scope": scope},
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, token: ApiToken, acting_user: User | None = None) -> None:
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if changed:
        _audit(
            action="token_revoked",
            actor=acting_user or token.user,
            organisation=token.user.organisation,
            target=f"token:{token.pk}",
            detail={"name": token.name},
        )


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
