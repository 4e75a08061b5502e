"""HTTP Basic for TAXII clients that support nothing else: the API token is the password
(the user name is not checked; any, such as the member's email, will do). Bearer tokens go
through the portal's ApiTokenAuthentication, so read and publish scopes apply to both."""

import base64
import binascii

from rest_framework import authentication, exceptions

from portal.services import OrganisationSuspended, use_api_token


class BasicTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            _, _, password = base64.b64decode(header[1], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from exc
        try:
            token = use_api_token(raw=password)
        except OrganisationSuspended as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Basic realm="TAXII"'
