"""Reads of community membership that the sharing side relies on (one place, one meaning)."""

from django.db.models import QuerySet
from django.http import Http404

from portal.models import ApiToken, Invitation, JoinRequest, Organisation, TrustGroup, User


def trust_groups_of(*, organisation: Organisation) -> QuerySet[TrustGroup]:
    """The trust groups the organisation belongs to."""
    return TrustGroup.objects.filter(members=organisation)


def organisations_in_trust_groups(*, group_ids: list[int]) -> QuerySet[Organisation]:
    """Every organisation that belongs to at least one of these groups."""
    return Organisation.objects.filter(trust_groups__id__in=group_ids).distinct()


def all_organisations() -> QuerySet[Organisation]:
    return Organisation.objects.all()


# --- Access helpers: "does not exist" and "not yours" are the same answer (404) -----------


def access_member(*, user, member_id: int):
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    member = User.objects.filter(pk=member_id, organisation_id=user.organisation_id).first()
    if member is None:
        raise Http404
    return member


def access_invitation(*, user, invitation_id: int):
    invitation = Invitation.objects.filter(
        pk=invitation_id, organisation_id=user.organisation_id
    ).first()
    if invitation is None or user.organisation_id is None:
        raise Http404
    return invitation


def access_join_request(*, user, join_request_id: int):
    """Join requests are the platform admins' business only."""
    if not (user.is_authenticated and user.is_staff):
        raise Http404
    join_request = JoinRequest.objects.filter(pk=join_request_id).first()
    if join_request is None:
        raise Http404
    return join_request


def visible_trust_groups(*, user) -> QuerySet[TrustGroup]:
    """Every group for platform admins; the groups of the user's organisation otherwise."""
    if user.is_staff:
        return TrustGroup.objects.all()
    if user.organisation_id is None:
        return TrustGroup.objects.none()
    return TrustGroup.objects.filter(members=user.organisation_id)


def access_trust_group(*, user, group_id: int) -> TrustGroup:
    group = visible_trust_groups(user=user).filter(pk=group_id).first()
    if group is None:
        raise Http404
    return group


def access_own_token(*, user, token_id: int):
    token = (
        ApiToken.objects.filter(pk=token_id, user=user).first() if user.is_authenticated else None
    )
    if token is None:
        raise Http404
    return token
