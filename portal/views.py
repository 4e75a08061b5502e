"""Web pages of the community. Each view parses input, calls one service, renders."""

from datetime import timedelta

from allauth.account.internal.flows.login import record_authentication
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import permissions, selectors, services
from portal.forms import (
    AcceptInvitationForm,
    InviteForm,
    JoinRequestForm,
    RejectForm,
    RoleForm,
    TokenForm,
    TrustGroupForm,
    TrustGroupMemberForm,
    TrustGroupRequestForm,
)
from portal.models import (
    Invitation,
    JoinRequest,
    Organisation,
    RequestState,
    TrustGroup,
    TrustGroupJoinRequest,
    User,
)


def client_ip(request: HttpRequest) -> str | None:
    from portal.audit.services import request_ip

    return request_ip(request)


def _errors(form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


# --- Onboarding --------------------------------------------------------------------------


def join(request: HttpRequest) -> HttpResponse:
    """Public: an organisation asks to join. Throttled per client address."""
    form = JoinRequestForm(request.POST or None)
    if request.method == "POST":
        key = f"join-requests:{client_ip(request)}"
        if cache.get(key, 0) >= settings.JOIN_REQUESTS_PER_HOUR:
            form.add_error(None, "Too many requests from your address; try again in an hour.")
        elif form.is_valid():
            try:
                services.submit_join_request(**form.cleaned_data, ip=client_ip(request))
            except ValidationError as exc:
                _errors(form, exc)
            else:
                cache.add(key, 0, timeout=3600)
                cache.incr(key)
                return render(
                    request, "portal/join_sent.html", {"email": form.cleaned_data["contact_email"]}
                )
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/join.html", {"form": form}, status=status)


@login_required
def join_request_list(request: HttpRequest) -> HttpResponse:
    permissions.require(permissions.is_platform_admin(request.user), "Platform admins only.")
    return render(
        request,
        "portal/join_request_list.html",
        {
            "pending": JoinRequest.objects.filter(state=RequestState.PENDING),
            "decided": JoinRequest.objects.exclude(state=RequestState.PENDING)[:50],
        },
    )


@login_required
def join_request_detail(request: HttpRequest, join_request_id: int) -> HttpResponse:
    join_request = selectors.access_join_request(user=request.user, join_request_id=join_request_id)
    reject_form = RejectForm(request.POST if request.POST.get("decision") == "reject" else None)
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("decision") == "approve":
                organisation = services.approve_join_request(
                    acting_user=request.user, join_request=join_request
                )
                messages.success(
                    request,
                    f"{organisation.name} created; {join_request.contact_email} was invited "
                    "as its first organisation admin.",
                )
                return redirect("join-requests")
            if reject_form.is_valid():
                services.reject_join_request(
                    acting_user=request.user,
                    join_request=join_request,
                    reason=reject_form.cleaned_data["reason"],
                )
                messages.success(request, f"Request of {join_request.organisation_name} rejected.")
                return redirect("join-requests")
        except ValidationError as exc:
            error = " ".join(exc.messages)
    return render(
        request,
        "portal/join_request_detail.html",
        {"join_request": join_request, "reject_form": reject_form, "error": error},
        status=400 if request.method == "POST" else 200,
    )


# --- Invitations and members -------------------------------------------------------------


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the invited person chooses a password; the account exists from then on."""
    try:
        invitation = services.open_invitation(raw_token=token)
    except ValidationError as exc:
        return render(
            request,
            "portal/invitation_invalid.html",
            {"reason": " ".join(exc.messages)},
            status=404,
        )
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                raw_token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # The password was chosen in this very request: record it as allauth's password
            # authentication, so enrolling a second factor next does not ask for it again.
            record_authentication(
                request, user, method="password", email=user.email, reauthenticated=True
            )
            messages.success(request, f"Welcome to {invitation.organisation.name}.")
            return redirect("home")
    return render(
        request,
        "portal/invitation_accept.html",
        {"invitation": invitation, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def members(request: HttpRequest) -> HttpResponse:
    if request.user.organisation_id is None:
        raise Http404
    can_manage = permissions.can_administer_organisation(request.user)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        permissions.require(can_manage, "Only organisation admins may invite members.")
        if form.is_valid():
            try:
                invitation, _ = services.invite_member(
                    acting_user=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("members")
    organisation = request.user.organisation
    return render(
        request,
        "portal/members.html",
        {
            "organisation": organisation,
            "members": User.objects.filter(organisation=organisation),
            "invitations": Invitation.objects.filter(
                organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True
            ),
            "form": form,
            "role_form": RoleForm(),
            "can_manage": can_manage,
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _member_action(request: HttpRequest, action) -> HttpResponse:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("members")


@login_required
@require_POST
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("members")
    return _member_action(
        request,
        lambda: services.change_role(
            acting_user=request.user, member=member, role=form.cleaned_data["role"]
        ),
    )


@login_required
@require_POST
def member_active(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    active = request.POST.get("active") == "1"
    return _member_action(
        request,
        lambda: services.set_member_active(acting_user=request.user, member=member, active=active),
    )


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.access_invitation(user=request.user, invitation_id=invitation_id)
    return _member_action(
        request, lambda: services.revoke_invitation(acting_user=request.user, invitation=invitation)
    )


# --- Trust groups ------------------------------------------------------------------------


@login_required
def trust_groups(request: HttpRequest) -> HttpResponse:
    user = request.user
    is_admin = permissions.is_platform_admin(user)
    form = TrustGroupForm(request.POST or None)
    if request.method == "POST":
        permissions.require(is_admin, "Only platform admins manage trust groups.")
        if form.is_valid():
            try:
                group = services.create_trust_group(acting_user=user, **form.cleaned_data)
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, f"Trust group {group.name} created.")
                return redirect("trust-group", group_id=group.id)
    mine = selectors.visible_trust_groups(user=user).prefetch_related("members")
    others = TrustGroup.objects.exclude(pk__in=mine.values("pk")) if not is_admin else []
    pending = TrustGroupJoinRequest.objects.filter(
        state=RequestState.PENDING, organisation_id=user.organisation_id
    ).values_list("group_id", flat=True)
    return render(
        request,
        "portal/trust_groups.html",
        {
            "groups": mine,
            "others": others,
            "pending_group_ids": set(pending),
            "form": form,
            "is_platform_admin": is_admin,
            "can_request": permissions.can_administer_organisation(user),
            "open_requests": TrustGroupJoinRequest.objects.filter(
                state=RequestState.PENDING
            ).select_related("group", "organisation")
            if is_admin
            else [],
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def trust_group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.access_trust_group(user=request.user, group_id=group_id)
    is_admin = permissions.is_platform_admin(request.user)
    add_form = TrustGroupMemberForm(request.POST if "add" in request.POST else None)
    add_form.fields["organisation"].queryset = Organisation.objects.exclude(trust_groups=group)
    if request.method == "POST":
        permissions.require(is_admin, "Only platform admins manage trust groups.")
        try:
            if "description" in request.POST:
                services.update_trust_group(
                    acting_user=request.user,
                    group=group,
                    description=request.POST["description"],
                )
            elif "remove" in request.POST:
                organisation = Organisation.objects.filter(pk=request.POST["remove"]).first()
                if organisation is None:
                    raise ValidationError("Unknown organisation.")
                services.remove_from_trust_group(
                    acting_user=request.user, group=group, organisation=organisation
                )
            elif add_form.is_valid():
                services.add_to_trust_group(
                    acting_user=request.user,
                    group=group,
                    organisation=add_form.cleaned_data["organisation"],
                )
            else:
                raise ValidationError("Choose an organisation to add.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Trust group updated.")
        return redirect("trust-group", group_id=group.id)
    group.refresh_from_db()
    return render(
        request,
        "portal/trust_group_detail.html",
        {"group": group, "is_platform_admin": is_admin, "add_form": add_form},
    )


@login_required
@require_POST
def trust_group_request(request: HttpRequest, group_id: int) -> HttpResponse:
    """An org admin asks for their organisation to join a group (any group may be asked)."""
    group = TrustGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise Http404
    form = TrustGroupRequestForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("The message is too long.")
        services.request_trust_group_membership(
            acting_user=request.user, group=group, message=form.cleaned_data["message"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Asked to join {group.name}; a platform admin will decide.")
    return redirect("trust-groups")


@login_required
@require_POST
def trust_group_request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    permissions.require(
        permissions.is_platform_admin(request.user), "Only platform admins manage trust groups."
    )
    join = (
        TrustGroupJoinRequest.objects.select_related("group", "organisation")
        .filter(pk=request_id)
        .first()
    )
    if join is None:
        raise Http404
    try:
        if request.POST.get("decision") == "approve":
            services.add_to_trust_group(
                acting_user=request.user, group=join.group, organisation=join.organisation
            )
        else:
            services.reject_trust_group_request(acting_user=request.user, join=join)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("trust-groups")


# --- API tokens --------------------------------------------------------------------------


@never_cache  # the page may show a new token
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _, secret = services.create_api_token(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=timezone.now() + timedelta(days=form.cleaned_data["expires_in_days"]),
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            form = TokenForm()
    return render(
        request,
        "portal/tokens.html",
        {
            "tokens": request.user.api_tokens.all(),
            "form": form,
            "secret": secret,
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" and secret is None else 200,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.access_own_token(user=request.user, token_id=token_id)
    services.revoke_api_token(token=token, acting_user=request.user)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("tokens")
