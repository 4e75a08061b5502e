"""Notification pages: a member's settings, the organisation's defaults (admins), and the
one-click unsubscribe link of every email (RFC 8058)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from portal import permissions
from sharing.forms import NotificationForm
from sharing.services import subscriptions
from sharing.views import filter_choices


def _settings_page(
    request: HttpRequest, *, current, save, saved: str, template: str, context: dict | None = None
) -> HttpResponse:
    """GET: `current` settings in a form. POST: `save(acting_user=, channel=, filters=)` them,
    then back to this page with `saved` as the message; a bad form answers 400."""
    form = NotificationForm(
        request.POST or None,
        initial={"channel": current.channel, **NotificationForm.initial_from(current)},
        **filter_choices(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            save(
                acting_user=request.user,
                channel=form.cleaned_data["channel"],
                filters=form.filters(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, saved)
            return redirect(request.path)
    return render(
        request,
        template,
        {"form": form, **(context or {})},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """GET: the settings in force for the member. POST: save them as the member's own."""
    permissions.require(permissions.is_member(request.user), "Only members have notifications.")
    current, own = subscriptions.settings_of(user=request.user)
    return _settings_page(
        request,
        current=current,
        save=subscriptions.save_settings,
        saved="Notification settings saved.",
        template="sharing/notifications.html",
        context={
            "own": own,
            "can_set_defaults": permissions.can_administer_organisation(request.user),
        },
    )


@login_required
def notification_defaults(request: HttpRequest) -> HttpResponse:
    """Organisation admins: the settings of members who have not saved their own."""
    permissions.require_org_admin(request.user)
    return _settings_page(
        request,
        current=subscriptions.defaults_of(organisation=request.user.organisation),
        save=subscriptions.save_defaults,
        saved="Defaults saved for members without settings of their own.",
        template="sharing/notification_defaults.html",
    )


@never_cache
@csrf_exempt  # RFC 8058 section 3.2: the mail client POSTs without a session or CSRF token;
# the signed token in the URL is the authorisation. The only CSRF-exempt view of the portal.
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a button (link scanners fetch GET; it must change nothing).
    POST (one-click, RFC 8058, or the button): stop every email to the token's member."""
    if request.method == "POST":
        user = subscriptions.unsubscribe(token=token)
        if user is None:
            return render(request, "sharing/unsubscribe.html", {"invalid": True}, status=404)
        return render(request, "sharing/unsubscribe.html", {"done": True, "email": user.email})
    user = subscriptions.user_of_token(token)
    if user is None:
        return render(request, "sharing/unsubscribe.html", {"invalid": True}, status=404)
    return render(request, "sharing/unsubscribe.html", {"email": user.email})
