"""Web pages for reading shared intelligence: object pages, search, publication pages and
downloads. Views parse input, call a selector, render; tenancy is the selectors' business."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from portal import permissions
from portal.models import Organisation
from portal.selectors import trust_groups_of
from sharing import downloads, history, pages, reading, rendering, selectors
from sharing.forms_reading import SearchForm

# Below DATA_UPLOAD_MAX_NUMBER_FIELDS (1000), so the reader gets this page's message.
MAX_SELECTION = 500


@login_required
def object_detail(request: HttpRequest, object_id: int) -> HttpResponse:
    page = pages.object_page(user=request.user, object_id=object_id)
    return render(request, "sharing/object_detail.html", {"page": page})


@login_required
def object_by_stix_id(request: HttpRequest, stix_id: str) -> HttpResponse:
    """The newest version of a STIX id the organisation may see."""
    obj = reading.latest_visible_version(user=request.user, stix_id=stix_id)
    return redirect("object-detail", object_id=obj.id)


@login_required
def object_download(request: HttpRequest, object_id: int) -> HttpResponse:
    """The object and its receipt in one ZIP, ready for `python -m ledger.verify`."""
    obj = reading.access_object(user=request.user, object_id=object_id)
    if obj.receipt is None:
        raise Http404("This object is not anchored yet: it has no receipt.")
    stem = downloads.file_stem(obj.stix_id, obj.version)
    response = HttpResponse(downloads.object_with_receipt(obj), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{stem}.zip"'
    return response


@login_required
def selection_bundle(request: HttpRequest) -> HttpResponse:
    """The chosen objects (`?object=ID&object=ID...`) as one STIX 2.1 bundle."""
    raw = request.GET.getlist("object")
    if not raw:
        return HttpResponseBadRequest("Choose at least one object to download.")
    if len(raw) > MAX_SELECTION:
        return HttpResponseBadRequest(f"Choose at most {MAX_SELECTION} objects at a time.")
    try:
        object_ids = [int(value) for value in raw]
    except ValueError:
        return HttpResponseBadRequest("Object ids must be whole numbers.")
    objects = reading.objects_by_ids(user=request.user, object_ids=object_ids)
    return _bundle_response(downloads.bundle(objects), "selection")


@login_required
def publication_bundle(request: HttpRequest, publication_id: int) -> HttpResponse:
    """One of the organisation's own publications as a STIX 2.1 bundle."""
    publication = selectors.access_publication(user=request.user, publication_id=publication_id)
    bundle_id = downloads.publication_bundle_id(publication.id, publication.bundle_id)
    return _bundle_response(
        downloads.bundle(publication.items.order_by("id"), bundle_id=bundle_id),
        f"publication-{publication.id}",
    )


@login_required
def delivery_bundle(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """A publication delivered to the organisation, as a STIX 2.1 bundle."""
    delivery = selectors.access_delivery(user=request.user, delivery_id=delivery_id)
    publication = delivery.publication
    bundle_id = downloads.publication_bundle_id(publication.id, publication.bundle_id)
    return _bundle_response(
        downloads.bundle(publication.items.order_by("id"), bundle_id=bundle_id),
        f"publication-{publication.id}",
    )


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Search the inbox and the organisation's own publications."""
    organisation = reading.organisation_of(request.user)
    form = SearchForm(
        request.GET or None,
        publishers=Organisation.objects.order_by("name"),
        trust_groups=trust_groups_of(organisation=organisation),
    )
    page, next_url = None, None
    if form.is_valid():
        page = reading.search_objects(
            user=request.user, filters=form.filters(), after=form.cleaned_data.get("after")
        )
        if page.next_after:
            query = {k: v for k, v in form.cleaned_query().items() if k != "after"}
            next_url = "?" + urlencode({**query, "after": page.next_after}, doseq=True)
    status = 400 if request.GET and not form.is_valid() else 200
    return render(
        request,
        "sharing/search.html",
        {
            "form": form,
            "page": page,
            "rows": [(obj, rendering.title(obj.body)) for obj in page.objects] if page else [],
            "next_url": next_url,
            "bundle_url": reverse("selection-bundle"),
        },
        status=status,
    )


@login_required
def publication_detail(request: HttpRequest, publication_id: int) -> HttpResponse:
    page = pages.publication_page(user=request.user, publication_id=publication_id)
    history.mark_items(page.items)  # latest / superseded / revoked, and the version actions
    context = {"page": page, "can_version": permissions.can_publish(request.user)}
    return render(request, "sharing/publication_detail.html", context)


def _bundle_response(bundle: dict, name: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(bundle, indent=2, ensure_ascii=False),
        content_type="application/stix+json;version=2.1",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.bundle.json"'
    return response
