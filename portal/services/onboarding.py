"""Organisations and onboarding: join requests from the public page, and their decisions.

The public side never says whether an address has an account or an organisation is already a
member: `submit_join_request` answers alike in every case, and tells the address owner by
email what happened instead.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ledger import keys as ledger_keys
from portal import emails, permissions
from portal.audit.models import AuditAction
from portal.models import JoinRequest, Organisation, RequestState, Role, Sector, User
from portal.services._audit import audit


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
    ledger_keys.create_portal_key(owner=organisation.stix_identity_id)
    audit(
        action=AuditAction.ORGANISATION_CREATED,
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
) -> JoinRequest | None:
    """Record an organisation's request to join, or tell the contact by email why not.

    Returns the new request, or None when the contact address already has an account or a
    request waiting (it gets an email saying so; no second request is stored). Callers show
    the same answer in every case, so the page cannot be used to learn who is a member. A
    request for an organisation name that is already a member is stored: the platform admins
    see the clash when they decide.
    """
    name, email = organisation_name.strip(), contact_email.strip().lower()
    duplicate = None
    if User.objects.filter(email__iexact=email).exists():
        duplicate = "account"
    elif JoinRequest.objects.filter(
        state=RequestState.PENDING, contact_email__iexact=email
    ).exists():
        duplicate = "pending_request"
    if duplicate:
        audit(
            action=AuditAction.JOIN_REQUEST_DUPLICATE,
            target=f"email:{email}",
            detail={"organisation": name, "contact": email, "duplicate": duplicate},
            ip=ip,
        )
        emails.send(
            to=[email],
            template="join_duplicate",
            context={"organisation_name": name, "has_account": duplicate == "account"},
        )
        return None
    join_request = JoinRequest.objects.create(
        organisation_name=name,
        sector=sector,
        country=country.upper(),
        contact_name=contact_name.strip(),
        contact_email=email,
        justification=justification.strip(),
    )
    audit(
        action=AuditAction.JOIN_REQUEST_SUBMITTED,
        target=f"join_request:{join_request.pk}",
        detail={"organisation": name, "contact": email},
        ip=ip,
    )
    return join_request


def _decidable(acting_user: User, join_request: JoinRequest) -> JoinRequest:
    permissions.require_platform_admin(acting_user)
    locked = JoinRequest.objects.select_for_update().get(pk=join_request.pk)
    if locked.state != RequestState.PENDING:
        raise ValidationError(f"This request was already {locked.get_state_display().lower()}.")
    return locked


@transaction.atomic
def rename_join_request(*, acting_user: User, join_request: JoinRequest, name: str) -> None:
    """Correct the organisation name of a pending request before approving it."""
    join_request = _decidable(acting_user, join_request)
    name = name.strip()
    if not name:
        raise ValidationError("Give the organisation's name.")
    if len(name) > 200:
        raise ValidationError("The name is longer than 200 characters.")
    previous = join_request.organisation_name
    join_request.organisation_name = name
    join_request.save(update_fields=["organisation_name"])
    audit(
        action=AuditAction.JOIN_REQUEST_RENAMED,
        actor=acting_user,
        target=f"join_request:{join_request.pk}",
        detail={"from": previous, "to": name},
    )


@transaction.atomic
def approve_join_request(*, acting_user: User, join_request: JoinRequest) -> Organisation:
    """Create the organisation and invite its contact to become its first org admin."""
    from portal.services.members import send_invitation

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
    audit(
        action=AuditAction.JOIN_REQUEST_APPROVED,
        actor=acting_user,
        organisation=organisation,
        target=f"join_request:{join_request.pk}",
    )
    send_invitation(
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
    audit(
        action=AuditAction.JOIN_REQUEST_REJECTED,
        actor=acting_user,
        target=f"join_request:{join_request.pk}",
        detail={"reason": join_request.decision_reason},
    )
    emails.send(
        to=[join_request.contact_email],
        template="join_rejected",
        context={"request": join_request},
    )
