"""How django-allauth fits the portal: nobody signs up, and the client address behind the
reverse proxies is read the same way as for the audit trail."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.services.organisations import suspended_message


def _suspended_organisation(user):
    organisation = getattr(user, "organisation", None)
    return organisation if organisation is not None and organisation.is_suspended else None


class AccountAdapter(DefaultAccountAdapter):
    def authenticate(self, request: HttpRequest, **credentials):
        """allauth's check of the password, refusing members of a suspended organisation with
        a message that says so (shown on the login form; nothing is logged in)."""
        user = super().authenticate(request, **credentials)
        organisation = _suspended_organisation(user)
        if organisation is not None:
            raise ValidationError(suspended_message(organisation))
        return user

    def pre_login(self, request: HttpRequest, user, **kwargs):
        """Every other way in (passkey login, a login finished after the second factor): a
        member of a suspended organisation is sent back to the login page with the reason."""
        organisation = _suspended_organisation(user)
        if organisation is not None:
            messages.error(request, suspended_message(organisation))
            return HttpResponseRedirect(reverse("account_login"))
        return super().pre_login(request, user, **kwargs)

    def login(self, request: HttpRequest, user) -> None:
        """Log in, and count the password typed for this login as a fresh confirmation: right
        after logging in, enrolling a second factor does not ask for the password again.
        allauth still asks once ACCOUNT_REAUTHENTICATION_TIMEOUT has passed."""
        super().login(request, user)
        records = request.session.get(AUTHENTICATION_METHODS_SESSION_KEY, [])
        for record in records:
            if record.get("method") == "password":
                record["reauthenticated"] = True
        request.session[AUTHENTICATION_METHODS_SESSION_KEY] = records

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Closed: people join through an invitation (`portal.views.accept_invitation`), which
        creates the account with its address already verified."""
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        """The address rate limits count against: the Nth address from the right of
        X-Forwarded-For behind TRUSTED_PROXY_COUNT proxies, else REMOTE_ADDR.

        allauth's own reading (ALLAUTH_TRUSTED_PROXY_COUNT, set to the same count) answers the
        same, except that it fails with a server error on a header shorter than the count;
        sharing `request_ip` keeps throttling and the audit trail in agreement.
        """
        from portal.audit.services import request_ip

        ip = request_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client address.")
        return ip


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """Replaces the Django admin's own login form: platform admins log in through allauth,
    with their second factor and the same rate limits; everyone else is refused."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Platform admins only.")
        return HttpResponseRedirect(next_url)
    return redirect_to_login(next_url, login_url=reverse("account_login"))
