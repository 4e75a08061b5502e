"""Who may do what: every role check of the portal lives here.

Tenant scoping (which rows a user may see at all) lives in the `access_*` helpers and the
scoped querysets; this module answers whether a user who can see something may act on it.
"""

from django.core.exceptions import PermissionDenied

from portal.models import Role, User


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
