"""Suspending and reinstating an organisation: platform admins' measure against a member that
must stop taking part for a while (a compromised tenant, an unpaid membership, a dispute).

A suspended organisation (`Organisation.suspended_at` set):
- its members cannot log in, and those already logged in are logged out at their next request
  (portal.auth_backends refuses them; portal.middleware explains why);
- its API tokens are refused with a clear 401 (`use_api_token` raises OrganisationSuspended);
- it receives no deliveries on any channel: `sharing.services.pipeline.recipients_of` leaves it
  out, and its pending webhook messages are not sent;
- its pending invitations are revoked (and stay revoked after reinstatement).
Its admins are told by email either way. Nothing else is deleted: reinstating gives login and
tokens back as they were.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import emails, permissions
from portal.audit.models import AuditAction
from portal.models import Invitation, Organisation, Role, User
from portal.services._audit import audit

SUSPENDED_MESSAGE = (
    "Your organisation {name} is suspended by the platform admins: its members cannot log in "
    "or use API tokens until it is reinstated. Contact the platform admins."
)


class OrganisationSuspended(Exception):
    """The organisation of the user trying to authenticate is suspended."""

    def __init__(self, organisation: Organisation) -> None:
        super().__init__(SUSPENDED_MESSAGE.format(name=organisation.name))


def suspended_message(organisation: Organisation) -> str:
    return SUSPENDED_MESSAGE.format(name=organisation.name)


def _admin_addresses(organisation: Organisation) -> list[str]:
    return list(
        User.objects.filter(
            organisation=organisation, role=Role.ORG_ADMIN, is_active=True
        ).values_list("email", flat=True)
    )


@transaction.atomic
def suspend_organisation(*, acting_user: User, organisation: Organisation, reason: str) -> int:
    """Suspend `organisation` (platform admins only) and revoke its pending invitations;
    returns how many invitations were revoked. ValidationError if it is already suspended or
    no reason is given (nothing is written then). Its admins are emailed once this commits."""
    permissions.require_platform_admin(acting_user)
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason for the suspension; the organisation is told.")
    if len(reason) > 1000:
        raise ValidationError("The reason must be at most 1000 characters.")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.suspended_at is not None:
        raise ValidationError(f"{organisation.name} is already suspended.")
    now = timezone.now()
    Organisation.objects.filter(pk=organisation.pk).update(suspended_at=now)
    organisation.suspended_at = now
    revoked = Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    audit(
        action=AuditAction.ORGANISATION_SUSPENDED,
        actor=acting_user,
        organisation=organisation,
        target=f"organisation:{organisation.pk}",
        detail={"name": organisation.name, "reason": reason, "invitations_revoked": revoked},
    )
    emails.send(
        to=_admin_addresses(organisation),
        template="organisation_suspended",
        context={"organisation": organisation, "reason": reason},
    )
    return revoked


@transaction.atomic
def reinstate_organisation(*, acting_user: User, organisation: Organisation) -> None:
    """End the suspension of `organisation` (platform admins only): its members log in and use
    their tokens again; deliveries resume for what is published from now on. ValidationError
    if it is not suspended. Its admins are emailed once this commits."""
    permissions.require_platform_admin(acting_user)
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.suspended_at is None:
        raise ValidationError(f"{organisation.name} is not suspended.")
    suspended_at = organisation.suspended_at
    Organisation.objects.filter(pk=organisation.pk).update(suspended_at=None)
    organisation.suspended_at = None
    audit(
        action=AuditAction.ORGANISATION_REINSTATED,
        actor=acting_user,
        organisation=organisation,
        target=f"organisation:{organisation.pk}",
        detail={"name": organisation.name, "suspended_at": suspended_at.isoformat()},
    )
    emails.send(
        to=_admin_addresses(organisation),
        template="organisation_reinstated",
        context={"organisation": organisation},
    )
