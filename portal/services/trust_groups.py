"""Trust groups: platform admins create, rename, retire and fill them; org admins ask to join.

A retired group keeps its members and past publications (recipients were fixed when each was
accepted) but can no longer be chosen for a new publication nor joined.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import emails, permissions
from portal.audit.models import AuditAction
from portal.models import (
    Organisation,
    RequestState,
    Role,
    TrustGroup,
    TrustGroupJoinRequest,
    User,
)
from portal.services._audit import audit


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


def _clean_name(name: str, *, group: TrustGroup | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("Give the trust group a name.")
    clash = TrustGroup.objects.filter(name__iexact=name)
    if group is not None:
        clash = clash.exclude(pk=group.pk)
    if clash.exists():
        raise ValidationError(f"A trust group named {name!r} already exists.")
    return name


@transaction.atomic
def create_trust_group(*, acting_user: User, name: str, description: str = "") -> TrustGroup:
    permissions.require_platform_admin(acting_user)
    group = TrustGroup.objects.create(name=_clean_name(name), description=description.strip())
    audit(
        action=AuditAction.TRUST_GROUP_CREATED,
        actor=acting_user,
        target=f"trust_group:{group.pk}",
        detail={"name": group.name},
    )
    return group


@transaction.atomic
def update_trust_group(
    *, acting_user: User, group: TrustGroup, description: str, name: str | None = None
) -> None:
    """Change the description and, if given, the name; members' admins are told."""
    permissions.require_platform_admin(acting_user)
    previous_name = group.name
    new_name = previous_name if name is None else _clean_name(name, group=group)
    TrustGroup.objects.filter(pk=group.pk).update(name=new_name, description=description.strip())
    group.refresh_from_db()
    detail = {"description": group.description}
    if new_name != previous_name:
        detail.update({"renamed_from": previous_name, "name": new_name})
    audit(
        action=AuditAction.TRUST_GROUP_CHANGED,
        actor=acting_user,
        target=f"trust_group:{group.pk}",
        detail=detail,
    )
    summary = (
        f"{previous_name} is now called {new_name}."
        if new_name != previous_name
        else f"The description of {group} changed."
    )
    for organisation in group.members.all():
        _notify_group_change(group, organisation, summary)


@transaction.atomic
def retire_trust_group(*, acting_user: User, group: TrustGroup) -> None:
    """Retire a group: nothing new can be shared to it or asked of it; history stays."""
    permissions.require_platform_admin(acting_user)
    changed = TrustGroup.objects.filter(pk=group.pk, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    if not changed:
        raise ValidationError(f"{group} is already retired.")
    TrustGroupJoinRequest.objects.filter(group=group, state=RequestState.PENDING).update(
        state=RequestState.REJECTED, decided_at=timezone.now(), decided_by=acting_user
    )
    audit(
        action=AuditAction.TRUST_GROUP_RETIRED,
        actor=acting_user,
        target=f"trust_group:{group.pk}",
        detail={"name": group.name},
    )
    for organisation in group.members.all():
        _notify_group_change(group, organisation, f"{group} was retired.")


@transaction.atomic
def add_to_trust_group(
    *, group: TrustGroup, organisation: Organisation, acting_user: User | None = None
) -> None:
    """Add an organisation (platform admins; `acting_user=None` only for demo data and tests)."""
    if acting_user is not None:
        permissions.require_platform_admin(acting_user)
    if group.retired_at is not None:
        raise ValidationError(f"{group} is retired.")
    if group.members.filter(pk=organisation.pk).exists():
        return
    group.members.add(organisation)
    TrustGroupJoinRequest.objects.filter(
        group=group, organisation=organisation, state=RequestState.PENDING
    ).update(state=RequestState.APPROVED, decided_at=timezone.now(), decided_by=acting_user)
    audit(
        action=AuditAction.TRUST_GROUP_MEMBER_ADDED,
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
    permissions.require_platform_admin(acting_user)
    if not group.members.filter(pk=organisation.pk).exists():
        raise ValidationError(f"{organisation} is not a member of {group}.")
    group.members.remove(organisation)
    audit(
        action=AuditAction.TRUST_GROUP_MEMBER_REMOVED,
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
    permissions.require_org_admin(acting_user)
    organisation = acting_user.organisation
    if group.retired_at is not None:
        raise ValidationError(f"{group} is retired.")
    if group.members.filter(pk=organisation.pk).exists():
        raise ValidationError(f"{organisation} is already a member of {group}.")
    if TrustGroupJoinRequest.objects.filter(
        group=group, organisation=organisation, state=RequestState.PENDING
    ).exists():
        raise ValidationError(f"A request to join {group} is already waiting for review.")
    join = TrustGroupJoinRequest.objects.create(
        group=group, organisation=organisation, requested_by=acting_user, message=message.strip()
    )
    audit(
        action=AuditAction.TRUST_GROUP_JOIN_REQUESTED,
        actor=acting_user,
        organisation=organisation,
        target=f"trust_group:{group.pk}",
        detail={"group": group.name},
    )
    return join


@transaction.atomic
def reject_trust_group_request(*, acting_user: User, join: TrustGroupJoinRequest) -> None:
    permissions.require_platform_admin(acting_user)
    changed = TrustGroupJoinRequest.objects.filter(pk=join.pk, state=RequestState.PENDING).update(
        state=RequestState.REJECTED, decided_at=timezone.now(), decided_by=acting_user
    )
    if not changed:
        raise ValidationError("This request was already decided.")
    audit(
        action=AuditAction.TRUST_GROUP_CHANGED,
        actor=acting_user,
        organisation=join.organisation,
        target=f"trust_group:{join.group_id}",
        detail={"rejected_request_of": join.organisation.name},
    )
    _notify_group_change(
        join.group, join.organisation, f"{join.organisation} was not admitted to {join.group}."
    )
