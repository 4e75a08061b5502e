"""TAXII 2.1 media types (section 1.6.8), content negotiation and the error message
(section 3.6.1)."""

import json
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


class TaxiiError(Exception):
    """An answer other than success, rendered as a TAXII error message."""

    def __init__(self, status: int, title: str, description: str = "", details: Any = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.description = description
        self.details = details


def _parse(media_range: str) -> tuple[str, dict[str, str]]:
    kind, *params = [part.strip() for part in media_range.split(";")]
    parameters = {}
    for param in params:
        name, _, value = param.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return kind.lower(), parameters


def _is_taxii_21(kind: str, parameters: dict[str, str]) -> bool:
    """`application/taxii+json`, with version 2.1 or no version (the latest, section 1.6.8.1)."""
    return kind == "application/taxii+json" and parameters.get("version", "2.1") == "2.1"


def accepts_taxii(accept: str | None) -> bool:
    """Whether an Accept header admits TAXII 2.1 JSON (no header admits anything)."""
    if not accept:
        return True
    for media_range in accept.split(","):
        kind, parameters = _parse(media_range)
        if parameters.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in ("*/*", "application/*") or _is_taxii_21(kind, parameters):
            return True
    return False


def is_taxii_content(content_type: str | None) -> bool:
    if not content_type:
        return False
    return _is_taxii_21(*_parse(content_type))


def taxii_response(body: dict[str, Any] | str, status: int = 200, **headers: str) -> HttpResponse:
    """A TAXII response; `body` may already be serialised JSON (the objects endpoints build
    theirs from the stored text)."""
    content = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    response = HttpResponse(content, status=status, content_type=TAXII)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error_response(error: TaxiiError) -> HttpResponse:
    body: dict[str, Any] = {"title": error.title, "http_status": str(error.status)}
    if error.description:
        body["description"] = error.description
    if error.details is not None:
        body["details"] = error.details
    return taxii_response(body, status=error.status)


def timestamp(moment: datetime) -> str:
    """A TAXII timestamp: UTC, microsecond precision (section 2.1)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
