"""The audit trail pages: a filtered list and its CSV export. Org admins and platform admins
only; each view parses the filters, calls one selector and renders."""

import csv
import json
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal import permissions
from portal.audit import selectors
from portal.audit.forms import AuditFilterForm
from portal.audit.hashing import format_timestamp
from portal.audit.models import AuditEvent

PAGE_SIZE = 50
CSV_HEADER = [
    "seq",
    "created_at",
    "action",
    "actor_email",
    "organisation_id",
    "organisation",
    "target",
    "ip",
    "detail",
    "previous_hash",
    "hash",
]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _filtered_events(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    permissions.require(
        permissions.can_view_audit(request.user),
        "Only organisation admins and platform admins may see the audit trail.",
    )
    form = AuditFilterForm(request.GET)
    return form, selectors.search_events(user=request.user, **form.filters())


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    form, events = _filtered_events(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/event_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "all_organisations": permissions.is_platform_admin(request.user),
        },
    )


@login_required
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    _, events = _filtered_events(request)
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events.iterator(chunk_size=1000):
        yield writer.writerow(
            [
                _cell(value)
                for value in (
                    event.seq,
                    format_timestamp(event.created_at),
                    event.action,
                    event.actor_email,
                    event.organisation_id,
                    event.organisation.name if event.organisation else "",
                    event.target,
                    event.ip,
                    json.dumps(event.detail, sort_keys=True, ensure_ascii=False),
                    event.previous_hash,
                    event.hash,
                )
            ]
        )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
