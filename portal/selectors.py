"""Reads of community membership that the sharing side relies on (one place, one meaning)."""

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

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


def access_member(*, user, member_id: int) -> User:
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    return get_object_or_404(User, pk=member_id, organisation_id=user.organisation_id)


def access_invitation(*, user, invitation_id: int) -> Invitation:
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    return get_object_or_404(Invitation, pk=invitation_id, organisation_id=user.organisation_id)


def access_join_request(*, user, join_request_id: int) -> JoinRequest:
    """Join requests are the platform admins' business only."""
    if not (user.is_authenticated and user.is_staff):
        raise Http404
    return get_object_or_404(JoinRequest, pk=join_request_id)


def visible_trust_groups(*, user) -> QuerySet[TrustGroup]:
    """Every group for platform admins; the groups of the user's organisation otherwise."""
    if user.is_staff:
        return TrustGroup.objects.all()
    if user.organisation_id is None:
        return TrustGroup.objects.none()
    return TrustGroup.objects.filter(members=user.organisation_id)


def access_trust_group(*, user, group_id: int) -> TrustGroup:
    return get_object_or_404(visible_trust_groups(user=user), pk=group_id)


def access_own_token(*, user, token_id: int) -> ApiToken:
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(ApiToken, pk=token_id, user=user)
