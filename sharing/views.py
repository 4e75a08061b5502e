"""Web pages of the sharing side. Each view parses input, calls one service, renders."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import permissions
from portal.selectors import all_organisations, trust_groups_of
from sharing import history, selectors
from sharing.forms import AcknowledgeForm, FilterForm, PublishForm, WebhookForm
from sharing.services import inbox as inbox_services
from sharing.services import publishing, subscriptions, webhook_operations, webhooks
from sharing.stix import BundleError

PAGE_SIZE = 25


@login_required
def home(request: HttpRequest) -> HttpResponse:
    inbox = selectors.inbox_of(user=request.user)[:10] if request.user.organisation_id else []
    return render(request, "sharing/home.html", {"inbox": history.mark_deliveries(list(inbox))})


@login_required
def publish(request: HttpRequest) -> HttpResponse:
    permissions.require(permissions.can_publish(request.user), "Only publishers may publish.")
    groups = trust_groups_of(organisation=request.user.organisation)
    form = PublishForm(
        request.POST or None,
        request.FILES or None,
        trust_groups=groups,
        max_bytes=settings.PUBLISH_MAX_BYTES,
    )
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            publication = publishing.publish_bundle(
                acting_user=request.user,
                bundle=form.cleaned_data["bundle"],
                distribution=form.cleaned_data["distribution"],
                tlp=form.cleaned_data["tlp"],
                trust_group_ids=[group.id for group in form.cleaned_data["trust_groups"]],
            )
        except BundleError as exc:
            errors = exc.errors
        else:
            messages.success(request, "Published: sealing, anchoring and delivery are under way.")
            return redirect("publication-detail", publication_id=publication.id)
    status = 400 if request.method == "POST" else 200
    return render(request, "sharing/publish.html", {"form": form, "errors": errors}, status=status)


@login_required
def publication_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.publications_of(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sharing/publication_list.html", {"page": page})


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The organisation's deliveries, newest first, the ones this user has not opened marked
    (`?unread=1`: only those)."""
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(
        selectors.inbox_with_unread(user=request.user, unread_only=unread_only), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    history.mark_deliveries(page.object_list)
    return render(request, "sharing/inbox.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def inbox_mark_all_read(request: HttpRequest) -> HttpResponse:
    selectors.inbox_of(user=request.user)  # 404 without an organisation
    inbox_services.mark_all_read(user=request.user)
    messages.success(request, "Everything in your inbox is marked read.")
    return redirect("inbox")


@login_required
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """One delivery (opening it marks it read for the user), with the acknowledgement form
    (POST) for publishers and organisation admins."""
    delivery = selectors.access_delivery(user=request.user, delivery_id=delivery_id)
    can_acknowledge = permissions.can_publish(request.user)
    form = AcknowledgeForm(request.POST or None)
    if request.method == "POST":
        permissions.require(
            can_acknowledge, "Only publishers and organisation admins may acknowledge."
        )
        if form.is_valid():
            try:
                inbox_services.acknowledge_delivery(
                    acting_user=request.user,
                    delivery=delivery,
                    outcome=form.cleaned_data["outcome"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Acknowledgement recorded; the publisher sees it.")
                return redirect("delivery-detail", delivery_id=delivery.id)
    else:
        inbox_services.mark_read(user=request.user, delivery=delivery)
    return render(
        request,
        "sharing/delivery_detail.html",
        {
            "delivery": delivery,
            "objects": history.mark_items(list(delivery.publication.items.all())),
            "acknowledge_form": form,
            "can_acknowledge": can_acknowledge,
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def receipt(request: HttpRequest, delivery_id: int, object_id: int) -> HttpResponse:
    """Download one object's receipt, for the stand-alone verifier."""
    delivery = selectors.access_delivery(user=request.user, delivery_id=delivery_id)
    obj = delivery.publication.items.filter(pk=object_id, receipt__isnull=False).first()
    if obj is None:
        raise Http404("No receipt for this object yet.")

    response = JsonResponse(obj.receipt, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{obj.stix_id}.receipt.json"'
    return response


@never_cache  # the page may show a signing secret
@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    can_manage = permissions.can_administer_organisation(request.user)
    choices = filter_choices(request.user)
    form = WebhookForm(request.POST or None, **choices)
    secret = None
    if request.method == "POST":
        webhooks.require_webhook_admin(request.user)
        if form.is_valid():
            try:
                endpoint, secret = subscriptions.register_endpoint(
                    acting_user=request.user,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    filters=form.filters(),
                )
            except ValidationError as exc:
                form.add_error("url", exc)
            else:
                form = WebhookForm(**choices)
                messages.success(request, f"Endpoint {endpoint.url} registered.")
    endpoints = list(selectors.webhooks_of(user=request.user))
    for endpoint, lines in zip(
        endpoints, describe_filters(endpoints, **choices).values(), strict=True
    ):
        endpoint.filter_lines = lines
    return render(
        request,
        "sharing/webhooks.html",
        {
            "endpoints": endpoints,
            "form": form,
            "secret": secret,
            "can_manage": can_manage,
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@login_required
def webhook_filters(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """GET: an endpoint's filters. POST (organisation admins): replace them."""
    endpoint = selectors.access_webhook(user=request.user, endpoint_id=endpoint_id)
    permissions.require_org_admin(request.user, endpoint.organisation_id)
    form = FilterForm(
        request.POST or None,
        initial=FilterForm.initial_from(endpoint),
        **filter_choices(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            subscriptions.set_endpoint_filters(
                acting_user=request.user, endpoint=endpoint, filters=form.filters()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Filters of {endpoint.url} saved.")
            return redirect("webhooks")
    return render(
        request,
        "sharing/webhook_filters.html",
        {"endpoint": endpoint, "form": form},
        status=400 if request.method == "POST" else 200,
    )


def filter_choices(user) -> dict:
    """What a user's filters may name: the community's organisations, their own trust groups."""
    return {
        "organisations": all_organisations().order_by("name"),
        "trust_groups": trust_groups_of(organisation=user.organisation).order_by("name"),
    }


def describe_filters(subscribers: list, *, organisations, trust_groups) -> dict[int, list[str]]:
    """A readable line per non-empty filter of each subscriber, keyed by its id (two queries
    for the names, however many subscribers)."""
    names = dict(organisations.values_list("id", "name"))
    groups = dict(trust_groups.values_list("id", "name"))
    described = {}
    for subscriber in subscribers:
        lines = []
        if subscriber.publisher_ids:
            lines.append("from " + ", ".join(names.get(i, "?") for i in subscriber.publisher_ids))
        if subscriber.trust_group_ids:
            lines.append(
                "shared with " + ", ".join(groups.get(i, "?") for i in subscriber.trust_group_ids)
            )
        if subscriber.stix_types:
            lines.append("types " + ", ".join(subscriber.stix_types))
        if subscriber.min_tlp:
            lines.append(f"TLP:{subscriber.min_tlp.upper()} or above")
        if subscriber.labels:
            lines.append("labels " + ", ".join(subscriber.labels))
        described[subscriber.id] = lines or ["everything"]
    return described


@login_required
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.access_webhook(user=request.user, endpoint_id=endpoint_id)
    webhooks.remove_endpoint(acting_user=request.user, endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} removed.")
    return redirect("webhooks")


# --- Webhook operator tools (organisation admins) ------------------------------------------


def _admin_webhook(request: HttpRequest, endpoint_id: int):
    """The endpoint, for an admin of its organisation: 404 for another organisation's or a
    missing one, 403 for a member who is not an admin."""
    endpoint = selectors.access_webhook(user=request.user, endpoint_id=endpoint_id)
    webhooks.require_webhook_admin(request.user, endpoint)
    return endpoint


@never_cache  # the page may show a new signing secret
@login_required
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """An endpoint's delivery log (every attempt: time, status, latency, error), with its
    operator actions."""
    endpoint = _admin_webhook(request, endpoint_id)
    page = Paginator(selectors.webhook_attempts(endpoint), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "sharing/webhook_detail.html",
        {"endpoint": endpoint, "page": page, "secret": request.session.pop("webhook_secret", None)},
    )


def _act(request: HttpRequest, endpoint_id: int, action, done: str) -> HttpResponse:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("webhook-detail", endpoint_id)


@login_required
@require_POST
def webhook_send_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _admin_webhook(request, endpoint_id)
    return _act(
        request,
        endpoint_id,
        lambda: webhook_operations.send_test_event(acting_user=request.user, endpoint=endpoint),
        "Test event queued: its attempt appears below.",
    )


@login_required
@require_POST
def webhook_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _admin_webhook(request, endpoint_id)
    return _act(
        request,
        endpoint_id,
        lambda: webhook_operations.enable_endpoint(acting_user=request.user, endpoint=endpoint),
        "Endpoint re-enabled.",
    )


@login_required
@require_POST
def webhook_rotate_secret(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _admin_webhook(request, endpoint_id)
    secret = webhook_operations.rotate_secret(acting_user=request.user, endpoint=endpoint)
    # Shown once, on the page this redirects to (never in a URL).
    request.session["webhook_secret"] = secret
    messages.success(request, "Secret rotated.")
    return redirect("webhook-detail", endpoint_id)


@login_required
@require_POST
def webhook_redeliver(request: HttpRequest, endpoint_id: int, message_id: int) -> HttpResponse:
    endpoint = _admin_webhook(request, endpoint_id)
    message = selectors.access_webhook_message(endpoint=endpoint, message_id=message_id)
    return _act(
        request,
        endpoint_id,
        lambda: webhook_operations.redeliver(acting_user=request.user, message=message),
        f"Message {message.message_id} queued for redelivery.",
    )
