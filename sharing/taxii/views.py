"""TAXII 2.1 endpoints (OASIS TAXII 2.1, section 4 and 5). Thin: parse, call a selector or
service, answer in `application/taxii+json;version=2.1`.

Every answer other than success is a TAXII error message (section 3.6.1). A collection the
caller may not see is 404, whoever's it is.
"""

import json
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from portal import permissions
from portal.authentication import ApiTokenAuthentication
from sharing.taxii import selectors, services
from sharing.taxii.auth import BasicTokenAuthentication
from sharing.taxii.collections import (
    Collection,
    access_collection,
    can_write,
    collections_for,
)
from sharing.taxii.media import (
    STIX,
    TAXII,
    TaxiiError,
    accepts_taxii,
    error_response,
    is_taxii_content,
    taxii_response,
    timestamp,
)
from sharing.taxii.models import TaxiiStatus

READ_FILTERS = ("added_after", "match[id]", "match[type]", "match[version]", "match[spec_version]")
OBJECT_FILTERS = ("added_after", "match[version]", "match[spec_version]")


class TaxiiView(APIView):
    """Token authentication (Bearer or Basic), the API's throttles, TAXII media types."""

    authentication_classes = [ApiTokenAuthentication, BasicTokenAuthentication]
    permission_classes = [IsAuthenticated]
    schema = None  # not part of the REST API's OpenAPI document: the TAXII 2.1 spec is its own

    def perform_content_negotiation(self, request, force=False):
        return (None, None)  # TAXII responses are rendered here, not by DRF renderers

    def initial(self, request, *args, **kwargs) -> None:
        if not accepts_taxii(request.META.get("HTTP_ACCEPT")):
            raise TaxiiError(
                406, "Not acceptable", f"This server answers only in {TAXII}; set Accept to it."
            )
        super().initial(request, *args, **kwargs)
        permissions.require(
            permissions.is_member(request.user),
            "TAXII serves members of an organisation; this account belongs to none.",
        )

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            response = error_response(TaxiiError(401, "Authentication required", str(exc.detail)))
            response["WWW-Authenticate"] = 'Bearer, Basic realm="TAXII"'
            return response
        if isinstance(exc, exceptions.Throttled):
            response = error_response(TaxiiError(429, "Too many requests", str(exc.detail)))
            if exc.wait is not None:
                response["Retry-After"] = str(int(exc.wait) + 1)
            return response
        if isinstance(exc, (DjangoPermissionDenied, exceptions.PermissionDenied)):
            return error_response(TaxiiError(403, "Forbidden", str(exc)))
        if isinstance(exc, (Http404, exceptions.NotFound)):
            return error_response(TaxiiError(404, "Not found"))
        if isinstance(exc, exceptions.MethodNotAllowed):
            return error_response(TaxiiError(405, "Method not allowed", str(exc.detail)))
        if isinstance(exc, TaxiiError):
            return error_response(exc)
        return super().handle_exception(exc)

    def collection(self, collection_id: str) -> Collection:
        return access_collection(user=self.request.user, collection_id=str(collection_id))

    def api_root_url(self) -> str:
        return self.request.build_absolute_uri(reverse("taxii-api-root"))


class DiscoveryView(TaxiiView):
    def get(self, request) -> HttpResponse:
        api_root = request.build_absolute_uri(reverse("taxii-api-root"))
        return taxii_response(
            {
                "title": settings.TAXII_TITLE,
                "description": "Threat intelligence shared by the community's members, "
                "each object version signed and anchored on a ledger.",
                "default": api_root,
                "api_roots": [api_root],
            }
        )


class ApiRootView(TaxiiView):
    def get(self, request) -> HttpResponse:
        return taxii_response(
            {
                "title": settings.TAXII_TITLE,
                "description": "Collections: your organisation, the community and each of "
                "your trust groups.",
                "versions": [TAXII],
                "max_content_length": settings.PUBLISH_MAX_BYTES,
            }
        )


def collection_resource(collection: Collection, *, writable: bool) -> dict:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "alias": collection.alias,
        "can_read": True,
        "can_write": writable,
        "media_types": [STIX],
    }


class CollectionsView(TaxiiView):
    def get(self, request) -> HttpResponse:
        writable = can_write(request.user, request.auth)
        found = collections_for(request.user.organisation)
        return taxii_response(
            {"collections": [collection_resource(c, writable=writable) for c in found]}
        )


class CollectionView(TaxiiView):
    def get(self, request, collection_id) -> HttpResponse:
        collection = self.collection(collection_id)
        writable = can_write(request.user, request.auth)
        return taxii_response(collection_resource(collection, writable=writable))


def _page_headers(page: selectors.Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": timestamp(page.rows[0].date_added),
        "X-TAXII-Date-Added-Last": timestamp(page.rows[-1].date_added),
    }


def _envelope(page: selectors.Page, key: str, items: list[str]) -> str:
    """The envelope as text around the stored JSON of each item, without re-encoding it."""
    head = '{"more":' + ("true" if page.more else "false")
    if page.next:
        head += ',"next":' + json.dumps(page.next)
    return head + f',"{key}":[' + ",".join(items) + "]}"


class ObjectsView(TaxiiView):
    """GET: a page of the collection's objects (section 5.4). POST: add objects (5.5)."""

    def get(self, request, collection_id, object_id: str | None = None) -> HttpResponse:
        collection = self.collection(collection_id)
        allowed = OBJECT_FILTERS if object_id else READ_FILTERS
        filters = selectors.parse_filters(request.GET, allowed=allowed)
        if object_id:
            filters = filters.__class__(**{**filters.__dict__, "ids": (object_id,)})
        base = selectors.collection_objects(
            organisation=request.user.organisation, collection=collection
        )
        page = selectors.page(base, filters, body=True)
        if object_id and not page.rows and filters.cursor is None:
            raise Http404
        response = taxii_response(
            _envelope(page, "objects", [row.body for row in page.rows]), **_page_headers(page)
        )
        receipts = (
            reverse(
                "taxii-receipts", kwargs={"collection_id": collection.id, "object_id": object_id}
            )
            if object_id
            else reverse("taxii-all-receipts", kwargs={"collection_id": collection.id})
        )
        query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
        response["Link"] = f'<{request.build_absolute_uri(receipts)}{query}>; rel="receipts"'
        return response

    def post(self, request, collection_id) -> HttpResponse:
        collection = self.collection(collection_id)
        if not can_write(request.user, request.auth):
            raise TaxiiError(403, "Forbidden", "This collection is read-only for you.")
        if not is_taxii_content(request.META.get("CONTENT_TYPE")):
            raise TaxiiError(415, "Unsupported media type", f"Send the envelope as {TAXII}.")
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.PUBLISH_MAX_BYTES:
            raise TaxiiError(
                413,
                "Request too large",
                f"The body is {length} bytes; max_content_length is {settings.PUBLISH_MAX_BYTES}.",
            )
        try:
            envelope = json.loads(request._request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TaxiiError(400, "Invalid JSON", str(exc)) from exc
        objects = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(objects, list) or not objects:
            raise TaxiiError(
                400, "Invalid envelope", 'Send an envelope: {"objects": [STIX objects]}.'
            )
        status = services.add_objects(
            acting_user=request.user, collection=collection, objects=objects
        )
        return taxii_response(services.status_resource(status), status=202)

    def delete(self, request, collection_id, object_id: str | None = None) -> HttpResponse:
        if object_id is None:
            raise exceptions.MethodNotAllowed("DELETE")
        collection = self.collection(collection_id)
        if not can_write(request.user, request.auth):
            raise TaxiiError(403, "Forbidden", "This collection is read-only for you.")
        filters = selectors.parse_filters(
            request.GET, allowed=("match[version]", "match[spec_version]"), default_version="all"
        )
        filters = filters.__class__(
            **{**filters.__dict__, "ids": (object_id,), "limit": settings.TAXII_MAX_PAGE_SIZE}
        )
        base = selectors.collection_objects(
            organisation=request.user.organisation, collection=collection
        )
        found = list(selectors.filtered(base, filters)[: filters.limit])
        if not found:
            raise Http404
        services.delete_object(acting_user=request.user, collection=collection, objects=found)
        return taxii_response("", status=200)


class VersionsView(TaxiiView):
    """The versions of one object in the collection (section 5.8)."""

    def get(self, request, collection_id, object_id: str) -> HttpResponse:
        collection = self.collection(collection_id)
        filters = selectors.parse_filters(
            request.GET, allowed=("added_after", "match[spec_version]"), default_version="all"
        )
        filters = filters.__class__(**{**filters.__dict__, "ids": (object_id,)})
        base = selectors.collection_objects(
            organisation=request.user.organisation, collection=collection
        )
        page = selectors.page(base, filters)
        if not page.rows and filters.cursor is None:
            raise Http404
        versions = [json.dumps(row.version or timestamp(row.date_added)) for row in page.rows]
        return taxii_response(_envelope(page, "versions", versions), **_page_headers(page))


class ManifestView(TaxiiView):
    """Information about the collection's objects, without their content (section 5.3)."""

    def get(self, request, collection_id) -> HttpResponse:
        collection = self.collection(collection_id)
        filters = selectors.parse_filters(request.GET, allowed=READ_FILTERS)
        base = selectors.collection_objects(
            organisation=request.user.organisation, collection=collection
        )
        page = selectors.page(base, filters)
        records = [
            json.dumps(
                {
                    "id": row.stix_id,
                    "date_added": timestamp(row.date_added),
                    "version": row.version or timestamp(row.date_added),
                    "media_type": STIX,
                },
                separators=(",", ":"),
            )
            for row in page.rows
        ]
        return taxii_response(_envelope(page, "objects", records), **_page_headers(page))


class ReceiptsView(TaxiiView):
    """The portal's receipt of each object version (docs/receipts.md), beside the objects:
    the same filters and the same `next` give the receipts of the same page of objects."""

    def get(self, request, collection_id, object_id: str | None = None) -> HttpResponse:
        collection = self.collection(collection_id)
        allowed = OBJECT_FILTERS if object_id else READ_FILTERS
        filters = selectors.parse_filters(request.GET, allowed=allowed)
        if object_id:
            filters = filters.__class__(**{**filters.__dict__, "ids": (object_id,)})
        base = selectors.collection_objects(
            organisation=request.user.organisation, collection=collection
        )
        page = selectors.page(base, filters, receipt=True)
        if object_id and not page.rows and filters.cursor is None:
            raise Http404
        receipts = [
            '{"id":'
            + json.dumps(row.stix_id)
            + ',"version":'
            + json.dumps(row.version)
            + ',"date_added":"'
            + timestamp(row.date_added)
            + '","receipt":'
            + (row.receipt or "null")
            + "}"
            for row in page.rows
        ]
        return taxii_response(_envelope(page, "receipts", receipts), **_page_headers(page))


class StatusView(TaxiiView):
    """The status of an envelope the caller's organisation added (section 4.3)."""

    def get(self, request, status_id: str) -> HttpResponse:
        try:
            status_id = uuid.UUID(status_id)
        except ValueError as exc:
            raise Http404 from exc
        status = get_object_or_404(
            TaxiiStatus.objects.select_related("publication"),
            pk=status_id,
            organisation=request.user.organisation_id,
        )
        return taxii_response(services.status_resource(status))
