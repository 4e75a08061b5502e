"""Reads of the audit trail, always scoped to what the requesting user may see."""

from datetime import date

from django.db.models import QuerySet

from portal import permissions
from portal.audit.models import AuditEvent


def events_visible_to(*, user) -> QuerySet[AuditEvent]:
    """Platform admins see every event; org admins their organisation's; others nothing."""
    events = AuditEvent.objects.select_related("organisation").order_by("-seq")
    if permissions.is_platform_admin(user):
        return events
    if permissions.can_administer_organisation(user):
        return events.filter(organisation_id=user.organisation_id)
    return events.none()


def search_events(
    *,
    user,
    action: str = "",
    actor_email: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The events the user may see, narrowed by action, actor email (part of it) and an
    inclusive range of days (UTC)."""
    events = events_visible_to(user=user)
    if action:
        events = events.filter(action=action)
    if actor_email:
        events = events.filter(actor_email__icontains=actor_email.strip())
    if date_from is not None:
        events = events.filter(created_at__date__gte=date_from)
    if date_to is not None:
        events = events.filter(created_at__date__lte=date_to)
    return events
