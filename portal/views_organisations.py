"""The platform admins' page of member organisations: suspend and reinstate them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal import permissions, selectors, services
from portal.views import confirm, confirmed


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    """Every organisation with its member count and whether it is suspended; a fixed number
    of queries however many organisations."""
    permissions.require_platform_admin(request.user)
    organisations = selectors.all_organisations().annotate(
        member_count=Count("members", filter=Q(members__is_active=True))
    )
    return render(request, "portal/organisation_list.html", {"organisations": organisations})


@login_required
@require_POST
def organisation_suspension(request: HttpRequest, organisation_id: int) -> HttpResponse:
    """POST `suspend=1` with a `reason`, or `suspend=0`: asks for confirmation first."""
    organisation = selectors.access_organisation(user=request.user, organisation_id=organisation_id)
    suspend = request.POST.get("suspend") == "1"
    reason = request.POST.get("reason", "")
    if suspend and not reason.strip():
        messages.error(request, "Give the reason for the suspension; the organisation is told.")
        return redirect("organisations")
    if not confirmed(request):
        return confirm(
            request,
            question=f"{'Suspend' if suspend else 'Reinstate'} {organisation.name}?",
            consequence="Its members are logged out and cannot log in or use API tokens, it "
            "receives no deliveries, and its pending invitations are revoked. Its admins are "
            "emailed."
            if suspend
            else "Its members can log in and use their API tokens again, and it receives what "
            "is published from now on. Its admins are emailed.",
            button="Suspend" if suspend else "Reinstate",
        )
    try:
        if suspend:
            services.suspend_organisation(
                acting_user=request.user, organisation=organisation, reason=reason
            )
        else:
            services.reinstate_organisation(acting_user=request.user, organisation=organisation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"{organisation.name} {'suspended' if suspend else 'reinstated'}."
        )
    return redirect("organisations")
