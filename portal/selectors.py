"""Reads of community membership that the sharing side relies on (one place, one meaning)."""

from dataclasses import dataclass
from datetime import datetime

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ledger.models import Entry, KeyEvent, SigningKey
from portal import permissions
from portal.models import ApiToken, Invitation, JoinRequest, Organisation, TrustGroup, User


def trust_groups_of(*, organisation: Organisation) -> QuerySet[TrustGroup]:
    """The trust groups the organisation belongs to that still take new publications (retired
    groups are left out)."""
    return TrustGroup.objects.filter(members=organisation, retired_at__isnull=True)


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


def access_organisation(*, user, organisation_id: int) -> Organisation:
    """Any organisation, for platform admins only (suspension); 404 for everyone else."""
    if not permissions.is_platform_admin(user):
        raise Http404
    return get_object_or_404(Organisation, pk=organisation_id)


def visible_trust_groups(*, user) -> QuerySet[TrustGroup]:
    """Every group for platform admins; the groups of the user's organisation otherwise."""
    if user.is_staff:
        return TrustGroup.objects.all()
    if user.organisation_id is None:
        return TrustGroup.objects.none()
    return TrustGroup.objects.filter(members=user.organisation_id)


def access_trust_group(*, user, group_id: int) -> TrustGroup:
    return get_object_or_404(visible_trust_groups(user=user), pk=group_id)


def access_token(*, user, token_id: int) -> ApiToken:
    """One of the user's own tokens or, for an org admin, of a member of their organisation."""
    if not user.is_authenticated:
        raise Http404
    mine = Q(user=user)
    if permissions.can_administer_organisation(user):
        mine |= Q(user__organisation_id=user.organisation_id)
    return get_object_or_404(ApiToken.objects.select_related("user").filter(mine), pk=token_id)


def open_invitations(*, organisation: Organisation) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True
    )


@dataclass
class MemberOverview:
    """What an org admin sees of a member: who, how protected, how active."""

    user: User
    has_mfa: bool
    active_sessions: int
    tokens: list[ApiToken]


def members_overview(*, organisation: Organisation, detailed: bool) -> list[MemberOverview]:
    """The organisation's members; with `detailed` (org admins), their second factor, active
    sessions and usable API tokens too. A fixed number of queries whatever the member count."""
    users = User.objects.filter(organisation=organisation)
    if not detailed:
        return [MemberOverview(user, False, 0, []) for user in users]
    now: datetime = timezone.now()
    usable = ApiToken.objects.filter(revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    users = users.annotate(
        mfa_count=Count(
            "authenticator",
            filter=~Q(authenticator__type=Authenticator.Type.RECOVERY_CODES),
            distinct=True,
        )
    ).prefetch_related(Prefetch("api_tokens", queryset=usable, to_attr="usable_tokens"))
    sessions = dict(
        UserSession.objects.filter(user__organisation=organisation)
        .values_list("user_id")
        .annotate(count=Count("id"))
    )
    return [
        MemberOverview(user, user.mfa_count > 0, sessions.get(user.pk, 0), user.usable_tokens)
        for user in users
    ]


# --- Signing keys --------------------------------------------------------------------------


def organisation_keys(*, organisation: Organisation) -> QuerySet[SigningKey]:
    """The organisation's signing keys, portal-held and its own, newest first."""
    return SigningKey.objects.filter(owner=organisation.stix_identity_id).order_by(
        "-valid_from", "-id"
    )


def access_signing_key(*, user: User, key_id: str) -> SigningKey:
    """A key of the user's organisation; 404 for a missing key and another's alike."""
    if not permissions.is_member(user):
        raise Http404
    return get_object_or_404(SigningKey, key_id=key_id, owner=user.organisation.stix_identity_id)


def entries_signed_for(*, organisation: Organisation) -> QuerySet[Entry]:
    """Every log entry signed under one of the organisation's keys, newest first: whatever was
    signed in its name, whoever sent it."""
    return (
        Entry.objects.filter(signing_key__owner=organisation.stix_identity_id)
        .select_related("signing_key", "checkpoint")
        .order_by("-id")
    )


def key_events() -> QuerySet[KeyEvent]:
    """The key directory's sealed events, newest first (public: the trust root is too)."""
    return KeyEvent.objects.select_related("signing_key", "entry__signing_key").order_by("-id")
