"""The one way the community services write their audit rows."""

from typing import Any

from portal.audit.models import AuditAction


def audit(*, action: AuditAction, **fields: Any) -> None:
    """Append an audit event in the caller's transaction (portal.audit.services.record)."""
    from portal.audit.services import record  # the audit app imports the models of this one

    record(action=action, **fields)
