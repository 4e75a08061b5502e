"""Second factor for everyone who can change what others see.

Publishers, organisation admins and platform admins (`is_staff`) without any MFA authenticator
are sent to the authenticator-app enrolment page until they have one. Readers are not forced.
The REST API follows the same rule when it is called with the session cookie (it answers 403
in JSON there); a token-authenticated call is covered when the token is made: a publish token
needs a second factor (portal.services.tokens).
"""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from portal import permissions
from portal.models import Organisation
from portal.services.organisations import suspended_message

ENROLMENT_URL_NAME = "mfa_activate_totp"
ENROLMENT_NEXT_SESSION_KEY = "mfa_enrolment_next"
# Pages a person without a second factor must still reach: the invitation and join pages,
# and the login shortcut. Every allauth page (login, logout, MFA, sessions, password, email
# addresses) is exempt as well.
EXEMPT_URL_NAMES = frozenset({"join", "join-sent", "accept-invitation", "login", "api-health"})
API_PREFIX = "/api/"
API_REFUSAL = (
    "Publishers and administrators must protect their account with a second factor before "
    "using the API with their session: set one up under Account security."
)
is_privileged = permissions.is_privileged


def uses_token(request: HttpRequest) -> bool:
    """The request authenticates with an API token (Authorization header), not the session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header.split(" ", 1)[0].lower() in ("bearer", "token")


def is_exempt(request: HttpRequest) -> bool:
    path = request.path_info
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    if match.url_name in EXEMPT_URL_NAMES:
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
            if request.path_info.startswith(API_PREFIX):
                if uses_token(request):
                    return self.get_response(request)
                return JsonResponse({"detail": API_REFUSAL, "errors": [API_REFUSAL]}, status=403)
            if request.method == "GET":
                # Offered again once the second factor is set up (the recovery codes page).
                request.session[ENROLMENT_NEXT_SESSION_KEY] = request.get_full_path()
            messages.warning(
                request,
                "Publishers and administrators must protect their account with a second "
                "factor. Set up an authenticator app to continue (you can add a passkey "
                "afterwards).",
            )
            return redirect(ENROLMENT_URL_NAME)
        return self.get_response(request)


class SuspendedOrganisationMiddleware:
    """End the session of a member whose organisation was suspended while they were logged in,
    and say why: the page asks them to log in (where they are refused with the same message);
    the API answers 401 in JSON.

    The authentication backends (portal.auth_backends) already load such a user as anonymous;
    this only looks further when a session still names a user who did not load, so other
    requests cost nothing more. Goes after AuthenticationMiddleware and MessageMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated and SESSION_KEY in request.session:
            organisation = (
                Organisation.objects.filter(
                    members__pk=request.session[SESSION_KEY], suspended_at__isnull=False
                )
                .only("name")
                .first()
            )
            if organisation is not None:
                message = suspended_message(organisation)
                logout(request)
                if request.path_info.startswith(API_PREFIX):
                    return JsonResponse({"detail": message, "errors": [message]}, status=401)
                messages.error(request, message)
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)
