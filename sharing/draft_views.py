"""Pages for writing threat intelligence: drafts, object forms, new versions, revocation,
MISP import, and the pattern check the indicator form calls while the analyst types."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal.selectors import trust_groups_of
from sharing import misp, object_forms, selectors, stix, vocabularies
from sharing.forms import DraftForm, DraftPublishForm, MispImportForm
from sharing.models import Draft, DraftSource
from sharing.services import drafts
from sharing.stix import BundleError


def _draft_for(request: HttpRequest, draft_id: int) -> Draft:
    drafts.require_author(request.user)
    return selectors.access_draft(user=request.user, draft_id=draft_id)


@login_required
def draft_list(request: HttpRequest) -> HttpResponse:
    drafts.require_author(request.user)
    form = DraftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        draft = drafts.create_draft(acting_user=request.user, title=form.cleaned_data["title"])
        return redirect("draft-detail", draft_id=draft.id)
    return render(
        request,
        "sharing/drafts/list.html",
        {"drafts": selectors.drafts_of(user=request.user), "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def draft_detail(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _draft_for(request, draft_id)
    return _render_draft(request, draft, DraftPublishForm(trust_groups=_groups(request)))


def _groups(request: HttpRequest):
    return trust_groups_of(organisation=request.user.organisation)


def _render_draft(
    request: HttpRequest, draft: Draft, form: DraftPublishForm, errors=(), status: int = 200
) -> HttpResponse:
    items = list(draft.items.all())
    for item in items:
        item.display_name = object_forms.display_name(item.body)
        item.editable = item.stix_type in object_forms.OBJECT_FIELDS
    bundle = drafts.bundle_of(draft)
    return render(
        request,
        "sharing/drafts/detail.html",
        {
            "draft": draft,
            "items": items,
            "types": object_forms.TYPE_LABELS.items(),
            "graph": _graph(items),
            "bundle_preview": json.dumps(bundle, indent=2, ensure_ascii=False),
            "form": form,
            "errors": errors,
            "fixed_distribution": draft.source == DraftSource.VERSION and draft.based_on,
        },
        status=status,
    )


def _graph(items) -> dict:
    """Nodes and edges for the draft's graph script (relationships and sightings)."""
    ids = {item.stix_id for item in items}
    nodes, edges = [], []
    for item in items:
        body = item.body
        if item.stix_type == "relationship":
            if body.get("source_ref") in ids and body.get("target_ref") in ids:
                edges.append(
                    {
                        "id": item.stix_id,
                        "source": body["source_ref"],
                        "target": body["target_ref"],
                        "label": str(body.get("relationship_type", "")),
                    }
                )
            continue
        nodes.append({"id": item.stix_id, "label": item.display_name, "type": item.stix_type})
        if item.stix_type == "sighting" and body.get("sighting_of_ref") in ids:
            edges.append(
                {
                    "id": f"{item.stix_id}-of",
                    "source": item.stix_id,
                    "target": body["sighting_of_ref"],
                    "label": "sighting of",
                }
            )
    return {"nodes": nodes, "edges": edges}


@login_required
@require_POST
def draft_publish(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _draft_for(request, draft_id)
    form = DraftPublishForm(request.POST, trust_groups=_groups(request))
    fixed = draft.source == DraftSource.VERSION and draft.based_on
    if not fixed and not form.is_valid():
        return _render_draft(request, draft, form, status=400)
    try:
        publication = drafts.publish_draft(
            acting_user=request.user,
            draft=draft,
            distribution="" if fixed else form.cleaned_data["distribution"],
            tlp="" if fixed else form.cleaned_data["tlp"],
            trust_group_ids=[] if fixed else [g.id for g in form.cleaned_data["trust_groups"]],
        )
    except BundleError as exc:
        return _render_draft(request, draft, form, errors=exc.errors, status=400)
    messages.success(request, "Published: sealing, anchoring and delivery are under way.")
    return redirect("publication-detail", publication_id=publication.id)


@login_required
@require_POST
def draft_delete(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _draft_for(request, draft_id)
    drafts.delete_draft(acting_user=request.user, draft=draft)
    messages.success(request, f"Draft {draft.title} deleted.")
    return redirect("drafts")


@login_required
def object_form(
    request: HttpRequest, draft_id: int, stix_type: str = "", object_id: int | None = None
) -> HttpResponse:
    """Add an object of `stix_type` to the draft, or edit the draft's object `object_id`."""
    draft = _draft_for(request, draft_id)
    item = None
    if object_id is not None:
        item = selectors.access_draft_object(draft=draft, object_id=object_id)
        stix_type = item.stix_type
    if stix_type not in object_forms.OBJECT_FIELDS:
        raise Http404("No form for this object type.")
    refs = [
        object_forms.RefChoice(
            stix_id=other.stix_id,
            stix_type=other.stix_type,
            label=object_forms.display_name(other.body),
        )
        for other in draft.items.exclude(pk=getattr(item, "pk", None))
    ]
    form = object_forms.ObjectForm(
        request.POST or None,
        stix_type=stix_type,
        refs=refs,
        initial=object_forms.initial_from(item.body) if item else _defaults(stix_type),
    )
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            drafts.save_object(
                acting_user=request.user,
                draft=draft,
                stix_type=stix_type,
                data=form.cleaned_data,
                draft_object=item,
            )
        except BundleError as exc:
            errors = exc.errors
        else:
            messages.success(request, f"{object_forms.TYPE_LABELS[stix_type]} saved.")
            return redirect("draft-detail", draft_id=draft.id)
    return render(
        request,
        "sharing/drafts/object_form.html",
        {
            "draft": draft,
            "item": item,
            "form": form,
            "errors": errors,
            "type_label": object_forms.TYPE_LABELS[stix_type],
            "stix_type": stix_type,
            "vocabularies": [
                (spec.name, spec.vocabulary)
                for spec in object_forms.fields_of(stix_type)
                if spec.kind == "choice"
            ],
            "relationship_table": vocabularies.relationship_table(),
            "common_relationships": vocabularies.COMMON_RELATIONSHIPS,
            "ref_types": {ref.stix_id: ref.stix_type for ref in refs},
        },
        status=400 if request.method == "POST" else 200,
    )


def _defaults(stix_type: str) -> dict:
    """Initial values of a new object: the required timestamps at now, common choices."""
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "indicator": {"pattern_type": "stix", "valid_from": now},
        "malware": {"is_family": True},
        "report": {"published": now},
        "identity": {"identity_class": "class"},
    }.get(stix_type, {})


@login_required
@require_POST
def object_delete(request: HttpRequest, draft_id: int, object_id: int) -> HttpResponse:
    draft = _draft_for(request, draft_id)
    item = selectors.access_draft_object(draft=draft, object_id=object_id)
    drafts.remove_object(acting_user=request.user, draft_object=item)
    messages.success(request, "Object removed from the draft.")
    return redirect("draft-detail", draft_id=draft.id)


@login_required
@require_GET
def pattern_check(request: HttpRequest) -> JsonResponse:
    """{"ok": bool, "message": str, "column": int|null} for the pattern in ?pattern=."""
    drafts.require_author(request.user)
    pattern = request.GET.get("pattern", "")[: settings.STIX_MAX_TEXT_CHARS]
    check = stix.check_pattern(pattern)
    return JsonResponse({"ok": check.ok, "message": check.message, "column": check.column})


@login_required
@require_POST
def new_version(request: HttpRequest, stix_id: str) -> HttpResponse:
    drafts.require_author(request.user)
    lineage = drafts.access_own_lineage(user=request.user, stix_id=stix_id)
    try:
        draft = drafts.start_new_version(acting_user=request.user, lineage=lineage)
    except BundleError as exc:
        messages.error(request, "; ".join(exc.errors))
        return redirect("publication-detail", publication_id=lineage.original_publication_id)
    item = draft.items.get()
    return redirect("draft-object-edit", draft_id=draft.id, object_id=item.id)


@login_required
@require_POST
def revoke(request: HttpRequest, stix_id: str) -> HttpResponse:
    drafts.require_author(request.user)
    lineage = drafts.access_own_lineage(user=request.user, stix_id=stix_id)
    try:
        publication = drafts.revoke(acting_user=request.user, lineage=lineage)
    except BundleError as exc:
        messages.error(request, "; ".join(exc.errors))
        return redirect("publication-detail", publication_id=lineage.original_publication_id)
    messages.success(request, "Revoked: the revocation is sealed and delivered like a version.")
    return redirect("publication-detail", publication_id=publication.id)


@login_required
def misp_import(request: HttpRequest) -> HttpResponse:
    drafts.require_author(request.user)
    form = MispImportForm(
        request.POST or None, request.FILES or None, max_bytes=settings.PUBLISH_MAX_BYTES
    )
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            draft = misp.import_event(acting_user=request.user, event=form.cleaned_data["event"])
        except BundleError as exc:
            errors = exc.errors
        else:
            messages.success(request, "Imported: review the objects, then publish.")
            return redirect("draft-detail", draft_id=draft.id)
    return render(
        request,
        "sharing/drafts/misp_import.html",
        {"form": form, "errors": errors},
        status=400 if request.method == "POST" else 200,
    )
