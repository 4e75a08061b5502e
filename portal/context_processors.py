"""What every page's frame needs: the navigation a user can actually use."""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from portal import permissions


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool
    count: int | None = None


# (label, URL name, who may use the page). A link is shown only to users the page serves:
# a platform admin without an organisation has no inbox, so sees no Inbox link.
NAVIGATION = [
    ("Inbox", "inbox", permissions.is_member),
    ("Publications", "publications", permissions.is_member),
    ("Search", "search", permissions.is_member),
    ("Drafts", "drafts", permissions.can_publish),
    ("Publish", "publish", permissions.can_publish),
    ("Webhooks", "webhooks", permissions.is_member),
    ("Notifications", "notifications", permissions.is_member),
    ("Trust groups", "trust-groups", lambda u: permissions.is_member(u) or u.is_staff),
    ("Members", "members", permissions.is_member),
    ("Signing keys", "organisation-keys", permissions.is_member),
    ("Tokens", "tokens", lambda u: u.is_authenticated),
    ("Join requests", "join-requests", permissions.is_platform_admin),
    ("Organisations", "organisations", permissions.is_platform_admin),
    ("Pipeline", "pipeline-overview", permissions.is_platform_admin),
    ("Audit", "audit", permissions.can_view_audit),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match else None
    return {
        "nav_links": [
            NavLink(label, reverse(name), name == current, _count(name, user))
            for label, name, allowed in NAVIGATION
            if allowed(user)
        ]
    }


def _count(name: str, user) -> int | None:
    """The number shown next to a link: the user's unread deliveries next to Inbox (one
    query, answered by the sharing side through `on_unread_count`)."""
    if name == "inbox" and _unread_count is not None:
        return _unread_count(user=user)
    return None


_unread_count: Callable[..., int] | None = None


def on_unread_count(counter: Callable[..., int]) -> None:
    """The sharing app registers how to count a user's unread deliveries (sharing.apps):
    the portal shows the number next to Inbox without importing the sharing app."""
    global _unread_count
    _unread_count = counter
