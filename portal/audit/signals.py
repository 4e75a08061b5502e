"""Authentication events into the audit trail.

Django's login signals are the only place every login path (the login page, allauth, the admin)
passes through, so the audit rows for them are written here rather than in a service.
"""

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.audit.models import AuditAction
from portal.audit.services import record, request_ip

# Keys under which authentication backends receive the identifier a person typed.
IDENTIFIER_KEYS = ("username", "email", "login")


@receiver(user_logged_in, dispatch_uid="portal.audit.login")
def on_login(sender, request, user, **kwargs: Any) -> None:
    record(action=AuditAction.LOGIN, actor=user, target=f"user:{user.pk}", ip=request_ip(request))


@receiver(user_logged_out, dispatch_uid="portal.audit.logout")
def on_logout(sender, request, user, **kwargs: Any) -> None:
    if user is None or not user.is_authenticated:
        return  # logging out without a session changes nothing
    record(action=AuditAction.LOGOUT, actor=user, target=f"user:{user.pk}", ip=request_ip(request))


@receiver(user_login_failed, dispatch_uid="portal.audit.login_failed")
def on_login_failed(sender, credentials: dict[str, Any], request=None, **kwargs: Any) -> None:
    """Record the identifier that was tried, never the password (Django masks it anyway).

    A failed login for an existing account belongs to that account's organisation, so its
    admins see attacks on their members.
    """
    attempted = next(
        (str(credentials[key]) for key in IDENTIFIER_KEYS if credentials.get(key)), ""
    )[:254]
    account = (
        get_user_model().objects.filter(email__iexact=attempted).select_related("organisation")
    ).first()
    record(
        action=AuditAction.LOGIN_FAILED,
        organisation=account.organisation if account is not None else None,
        target=f"user:{account.pk}" if account is not None else "",
        detail={"email": attempted},
        ip=request_ip(request),
    )


def connect_mfa_signals() -> None:
    """Record second factors added and removed, when allauth's MFA app is installed."""
    if not apps.is_installed("allauth.mfa"):
        return
    from allauth.mfa import signals as mfa_signals

    mfa_signals.authenticator_added.connect(
        on_authenticator_added, dispatch_uid="portal.audit.mfa+"
    )
    mfa_signals.authenticator_removed.connect(
        on_authenticator_removed, dispatch_uid="portal.audit.mfa-"
    )


def on_authenticator_added(sender, request, user, authenticator, **kwargs: Any) -> None:
    _record_mfa(AuditAction.MFA_ADDED, request, user, authenticator)


def on_authenticator_removed(sender, request, user, authenticator, **kwargs: Any) -> None:
    _record_mfa(AuditAction.MFA_REMOVED, request, user, authenticator)


def _record_mfa(action: AuditAction, request, user, authenticator) -> None:
    record(
        action=action,
        actor=user,
        target=f"user:{user.pk}",
        detail={"type": str(getattr(authenticator, "type", ""))},
        ip=request_ip(request),
    )


connect_mfa_signals()
