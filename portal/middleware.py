"""Second factor for everyone who can change what others see.

Publishers, organisation admins and platform admins (`is_staff`) without any MFA authenticator
are sent to the authenticator-app enrolment page until they have one. Readers are not forced.
"""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from portal import permissions

ENROLMENT_URL_NAME = "mfa_activate_totp"
# Pages a person without a second factor must still reach: the invitation and join pages,
# and the login shortcut. Every allauth page (login, logout, MFA, sessions, password, email
# addresses) is exempt as well, and so is the token-authenticated REST API.
EXEMPT_URL_NAMES = frozenset({"join", "accept-invitation", "login"})
EXEMPT_ROUTE_PREFIXES = ("api/",)


def is_privileged(user) -> bool:
    return permissions.can_publish(user) or permissions.is_platform_admin(user)


def is_exempt(request: HttpRequest) -> bool:
    path = request.path_info
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    if match.url_name in EXEMPT_URL_NAMES or match.route.startswith(EXEMPT_ROUTE_PREFIXES):
        return True
    return match.func.__module__.startswith("allauth.")


class RequireMFAForPrivilegedMiddleware:
    """Redirect privileged users without a second factor to TOTP enrolment.

    Off when MFA_REQUIRED_FOR_PRIVILEGED is false. Goes after AuthenticationMiddleware,
    MessageMiddleware and allauth's AccountMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.MFA_REQUIRED_FOR_PRIVILEGED
            and is_privileged(user)
            and not is_exempt(request)
            and not is_mfa_enabled(user)
        ):
            messages.warning(
                request,
                "Publishers and administrators must protect their account with a second "
                "factor. Set up an authenticator app to continue (you can add a passkey "
                "afterwards).",
            )
            return redirect(ENROLMENT_URL_NAME)
        return self.get_response(request)
