"""The OpenAPI description of the API's shared parts: token authentication, and the error
responses every endpoint may give, with their one body shape (portal.api.exception_handler).

`ErrorDocumentingAutoSchema` adds to each operation the error statuses it can answer, so the
views only declare their success responses and any status of their own (e.g. 503).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token: `Authorization: Bearer ctp_...`",
        }


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API: `errors` lists what went wrong, one sentence each;
    `detail` repeats them as one string."""

    errors = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField(required=False)


WRITE_METHODS = ("POST", "PUT", "PATCH")
ERROR_DESCRIPTIONS = {
    "400": "The request is invalid: `errors` says why.",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "Authenticated, but not allowed: the role, the token's scope, a missing second "
    "factor, or a missing CSRF token with session authentication.",
    "404": "Not found, or not visible to your organisation (the same answer).",
    "413": "The request body is larger than PUBLISH_MAX_BYTES.",
    "415": "The request body is not JSON.",
    "429": "Too many requests: wait and retry.",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    def error_statuses(self) -> list[str]:
        """The error statuses this operation can answer."""
        statuses = ["429"]
        if self.get_auth():
            statuses += ["401", "403"]
        has_path_parameters = "{" in self.path
        is_list = self._is_list_view() and self.method == "GET"
        if has_path_parameters or is_list:  # unknown id; or a page number past the end
            statuses.append("404")
        if is_list:  # a page number that is not a positive integer
            statuses.append("400")
        if self.method in WRITE_METHODS:
            statuses += ["400", "413", "415"]
        elif any(
            parameter.get("required") and parameter.get("in") == "query"
            for parameter in self._get_parameters()
        ):
            statuses.append("400")
        return sorted(set(statuses))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, None, direction)
                response["description"] = ERROR_DESCRIPTIONS[status]
                responses[status] = response
        return responses
