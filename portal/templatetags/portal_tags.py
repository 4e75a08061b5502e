"""Template filters of the portal's own pages and of its overrides of allauth's."""

from allauth.mfa.models import Authenticator
from django import template

from ledger import signing

register = template.Library()


@register.filter
def has_security_key(user) -> bool:
    """Whether the user has registered a passkey or security key (WebAuthn)."""
    if user is None or not getattr(user, "pk", None):
        return False
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).exists()


@register.filter
def key_status(key, moment) -> str:
    """ "valid", "revoked", "expired", "retired" or "not yet valid" at ``moment``."""
    return key.status_at(moment)


@register.filter
def key_fingerprint(public_key) -> str:
    """The colon-separated SHA-256 fingerprint of a raw public key (ledger.signing)."""
    return signing.fingerprint(bytes(public_key))
