"""How django-allauth fits the portal: nobody signs up, and the client address behind the
reverse proxies is read the same way as for the audit trail."""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
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
