"""Who may do what: every role check of the portal lives here.

Tenant scoping (which rows a user may see at all) lives in the `access_*` helpers and the
scoped querysets; this module answers whether a user who can see something may act on it.
Each `require_*` helper is the one place its refusal is worded.
"""

from django.core.exceptions import PermissionDenied

from portal.models import Organisation, Role, TokenScope, User


def is_member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.organisation_id)


def can_read(user: User) -> bool:
    return is_member(user)


def can_publish(user: User) -> bool:
    return is_member(user) and user.role >= Role.PUBLISHER


def can_administer_organisation(user: User) -> bool:
    return is_member(user) and user.role >= Role.ORG_ADMIN


def require(allowed: bool, message: str) -> None:
    """Raise PermissionDenied with `message` unless `allowed`."""
    if not allowed:
        raise PermissionDenied(message)


def is_platform_admin(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_view_audit(user: User) -> bool:
    """Org admins see their organisation's audit trail; platform admins see all of it."""
    return is_platform_admin(user) or can_administer_organisation(user)


def require_platform_admin(user: User) -> None:
    """Onboarding decisions, trust groups and the pipeline overview are platform admins' work."""
    require(is_platform_admin(user), "Only platform admins may do this.")


def require_org_admin(user: User, organisation: Organisation | int | None = None) -> None:
    """The user administers their organisation (and, if given, it is `organisation`)."""
    organisation_id = getattr(organisation, "pk", organisation)
    require(
        can_administer_organisation(user)
        and (organisation_id is None or organisation_id == user.organisation_id),
        "Only organisation admins may do this.",
    )


def is_privileged(user: User) -> bool:
    """Publishers, organisation admins and platform admins: they must have a second factor."""
    return can_publish(user) or is_platform_admin(user)


SECOND_FACTOR_REFUSAL = (
    "Managing signing keys needs a session that passed a second factor: log out and log in "
    "again with your authenticator app or passkey."
)


def session_passed_second_factor(request) -> bool:
    """Whether the logged-in user's session was authenticated with a second factor (allauth
    records each step of a login in the session; a passkey login counts as one). A request
    authenticated by an API token has no such session."""
    from allauth.account.authentication import get_authentication_records

    if getattr(request, "auth", None) is not None:
        return False  # an API token: DRF's request.auth
    request = getattr(request, "_request", request)  # DRF wraps Django's request
    records = get_authentication_records(request, getattr(request, "user", None))
    return any(record.get("method") == "mfa" for record in records)


def require_second_factor(passed: bool) -> None:
    """The action needs a session that passed MFA (see session_passed_second_factor)."""
    require(passed, SECOND_FACTOR_REFUSAL)


def max_token_scope(user: User) -> TokenScope:
    """The widest scope a token of this user may carry: never more than their role allows."""
    return TokenScope.PUBLISH if can_publish(user) else TokenScope.READ
