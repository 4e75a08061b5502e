"""Session authentication that refuses members of suspended organisations.

Django loads the logged-in user from the session through the backend that logged them in
(`get_user`); these backends load it only if their organisation is not suspended, in the same
single query (a join, no extra query per request). A refused session user becomes anonymous;
`portal.middleware.SuspendedOrganisationMiddleware` then ends the session and says why.
Logging in is refused with a message by the account adapter (portal.auth_adapters).
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db.models import Q


def _load_unsuspended(backend, user_id):
    users = get_user_model()._default_manager.filter(
        Q(organisation__isnull=True) | Q(organisation__suspended_at__isnull=True)
    )
    try:
        user = users.get(pk=user_id)
    except get_user_model().DoesNotExist:
        return None
    return user if backend.user_can_authenticate(user) else None


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id):
        return _load_unsuspended(self, user_id)


class AuthenticationBackend(AllauthBackend):
    def get_user(self, user_id):
        return _load_unsuspended(self, user_id)
