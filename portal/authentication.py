"""API token authentication: `Authorization: Bearer ctp_...` (or `Token ctp_...`)."""

from rest_framework import authentication, exceptions

from portal.services import OrganisationSuspended, use_api_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            token = use_api_token(raw=header[1])
        except OrganisationSuspended as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"
