"""Error pages: in the portal's frame for people, in the API's error shape under /api/."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _api_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"errors": [message], "detail": message}, status=status)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return _api_error("Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return _api_error("The server could not answer this request; the error was logged.", 500)
    return defaults.server_error(request)
