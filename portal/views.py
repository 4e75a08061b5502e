"""Web pages of the community. Each view parses input, calls one service, renders."""

from datetime import timedelta

from allauth.account.internal.flows.login import record_authentication
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from portal import permissions, selectors, services
from portal.forms import (
    AcceptInvitationForm,
    InviteForm,
    JoinRequestForm,
    RegisterKeyForm,
    RejectForm,
    RenameJoinRequestForm,
    RevokeKeyForm,
    RoleForm,
    RotateKeyForm,
    TokenForm,
    TrustGroupForm,
    TrustGroupMemberForm,
    TrustGroupRequestForm,
)
from portal.models import (
    JoinRequest,
    Organisation,
    RequestState,
    Role,
    TrustGroup,
    TrustGroupJoinRequest,
)
from portal.services import organisation_keys as organisation_keys_service

NEW_TOKEN_SESSION_KEY = "new-api-token"


def client_ip(request: HttpRequest) -> str | None:
    from portal.audit.services import request_ip

    return request_ip(request)


def _errors(form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


def confirmed(request: HttpRequest) -> bool:
    """Whether a destructive POST carries the confirmation given on `confirm` 's page."""
    return request.POST.get("confirmed") == "yes"


def confirm(request: HttpRequest, *, question: str, consequence: str, button: str) -> HttpResponse:
    """A page asking to confirm the POST just received: it re-posts the same fields, plus
    `confirmed=yes`, to the same address. No script needed."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in values
    ]
    back = request.META.get("HTTP_REFERER") or reverse("home")
    return render(
        request,
        "portal/confirm.html",
        {
            "question": question,
            "consequence": consequence,
            "button": button,
            "fields": fields,
            "action": request.path,
            "back": back if back.startswith(("/", request.build_absolute_uri("/"))) else "/",
        },
    )


# --- Onboarding --------------------------------------------------------------------------


def _join_rate_key(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def join(request: HttpRequest) -> HttpResponse:
    """Public: an organisation asks to join.

    Every submission counts against the per-address limit, valid or not; and the answer is the
    same whether the contact already has an account, already asked, or is new (the service
    tells the address owner by email), so the page reveals nobody's membership.
    """
    form = JoinRequestForm(request.POST or None)
    if request.method == "POST":
        limited = is_ratelimited(
            request,
            group="join-requests",
            key=_join_rate_key,
            rate=f"{settings.JOIN_REQUESTS_PER_HOUR}/h",
            increment=True,
        )
        if limited:
            form.add_error(None, "Too many requests from your address; try again in an hour.")
            return render(request, "portal/join.html", {"form": form}, status=429)
        if form.is_valid():
            try:
                services.submit_join_request(**form.cleaned_data, ip=client_ip(request))
            except ValidationError as exc:
                _errors(form, exc)
            else:
                return redirect("join-sent")
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/join.html", {"form": form}, status=status)


def join_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/join_sent.html")


@login_required
def join_request_list(request: HttpRequest) -> HttpResponse:
    permissions.require_platform_admin(request.user)
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
    decision = request.POST.get("decision")
    reject_form = RejectForm(request.POST if decision == "reject" else None)
    rename_form = RenameJoinRequestForm(
        request.POST if decision == "rename" else None,
        initial={"organisation_name": join_request.organisation_name},
    )
    error = None
    if request.method == "POST":
        try:
            if decision == "rename":
                if rename_form.is_valid():
                    services.rename_join_request(
                        acting_user=request.user,
                        join_request=join_request,
                        name=rename_form.cleaned_data["organisation_name"],
                    )
                    messages.success(request, "Organisation name corrected.")
                    return redirect("join-request", join_request_id=join_request.id)
            elif decision == "approve":
                organisation = services.approve_join_request(
                    acting_user=request.user, join_request=join_request
                )
                messages.success(
                    request,
                    f"{organisation.name} created; {join_request.contact_email} was invited "
                    "as its first organisation admin.",
                )
                return redirect("join-requests")
            elif reject_form.is_valid():
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
        {
            "join_request": join_request,
            "reject_form": reject_form,
            "rename_form": rename_form,
            "error": error,
            "name_taken": Organisation.objects.filter(
                name__iexact=join_request.organisation_name
            ).exists(),
        },
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
            login(request, user, backend="portal.auth_backends.ModelBackend")
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
    """The organisation's members; for its admins also each member's second factor, last
    login, active sessions and API tokens, and the invitation form."""
    if request.user.organisation_id is None:
        raise Http404
    can_manage = permissions.can_administer_organisation(request.user)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        permissions.require_org_admin(request.user)
        if form.is_valid():
            try:
                invitation, _ = services.invite_member(
                    acting_user=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                _errors(form, exc)
            else:
                # The same sentence whether or not the address has an account elsewhere.
                messages.success(
                    request,
                    f"{invitation.email} will get an email about joining "
                    f"{invitation.organisation.name}.",
                )
                return redirect("members")
    organisation = request.user.organisation
    return render(
        request,
        "portal/members.html",
        {
            "organisation": organisation,
            "members": selectors.members_overview(organisation=organisation, detailed=can_manage),
            "invitations": selectors.open_invitations(organisation=organisation),
            "form": form,
            "role_form": RoleForm(),
            "can_manage": can_manage,
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _member_action(request: HttpRequest, action, success: str) -> HttpResponse:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect("members")


@login_required
@require_POST
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    permissions.require_org_admin(request.user)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("members")
    role = Role(form.cleaned_data["role"])
    if not confirmed(request):
        narrowing = " Their publish tokens become read-only." if role < Role.PUBLISHER else ""
        return confirm(
            request,
            question=f"Make {member.email} {role.label.lower()}?",
            consequence=f"They will have the rights of a {role.label.lower()} from their next "
            f"request on.{narrowing}",
            button="Change the role",
        )
    return _member_action(
        request,
        lambda: services.change_role(acting_user=request.user, member=member, role=role),
        f"{member.email} is now {role.label.lower()}.",
    )


@login_required
@require_POST
def member_active(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    permissions.require_org_admin(request.user)
    active = request.POST.get("active") == "1"
    if not confirmed(request):
        return confirm(
            request,
            question=f"{'Reactivate' if active else 'Deactivate'} {member.email}?",
            consequence="They can log in and use their tokens again."
            if active
            else "Their sessions and API tokens stop working at their next request.",
            button="Reactivate" if active else "Deactivate",
        )
    return _member_action(
        request,
        lambda: services.set_member_active(acting_user=request.user, member=member, active=active),
        f"{member.email} {'reactivated' if active else 'deactivated'}.",
    )


@login_required
@require_POST
def member_tokens_revoke(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    permissions.require_org_admin(request.user)
    if not confirmed(request):
        return confirm(
            request,
            question=f"Revoke every API token of {member.email}?",
            consequence="Their tools lose API access at once; they can create new tokens.",
            button="Revoke the tokens",
        )
    return _member_action(
        request,
        lambda: services.revoke_member_tokens(acting_user=request.user, member=member),
        f"The API tokens of {member.email} are revoked.",
    )


@login_required
@require_POST
def member_sessions_end(request: HttpRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(user=request.user, member_id=member_id)
    permissions.require_org_admin(request.user)
    if not confirmed(request):
        return confirm(
            request,
            question=f"Log {member.email} out everywhere?",
            consequence="Every browser session of theirs ends; they must log in again.",
            button="End the sessions",
        )
    return _member_action(
        request,
        lambda: services.end_member_sessions(acting_user=request.user, member=member),
        f"The sessions of {member.email} are ended.",
    )


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.access_invitation(user=request.user, invitation_id=invitation_id)
    permissions.require_org_admin(request.user)
    if not confirmed(request):
        return confirm(
            request,
            question=f"Revoke the invitation of {invitation.email}?",
            consequence="The link in their email stops working.",
            button="Revoke the invitation",
        )
    return _member_action(
        request,
        lambda: services.revoke_invitation(acting_user=request.user, invitation=invitation),
        f"The invitation of {invitation.email} is revoked.",
    )


# --- Trust groups ------------------------------------------------------------------------


@login_required
def trust_groups(request: HttpRequest) -> HttpResponse:
    user = request.user
    is_admin = permissions.is_platform_admin(user)
    form = TrustGroupForm(request.POST or None)
    if request.method == "POST":
        permissions.require_platform_admin(user)
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
        permissions.require_platform_admin(request.user)
        try:
            if "description" in request.POST:
                services.update_trust_group(
                    acting_user=request.user,
                    group=group,
                    name=request.POST.get("name"),
                    description=request.POST["description"],
                )
                success = f"Trust group {group.name} saved."  # the service refreshed it
            elif "retire" in request.POST:
                if not confirmed(request):
                    return confirm(
                        request,
                        question=f"Retire {group.name}?",
                        consequence="Nobody can share to it or ask to join it any more. Its "
                        f"{group.members.count()} member organisations keep what was already "
                        "shared with them.",
                        button="Retire the group",
                    )
                services.retire_trust_group(acting_user=request.user, group=group)
                success = f"{group.name} is retired."
            elif "remove" in request.POST:
                organisation = Organisation.objects.filter(pk=request.POST["remove"]).first()
                if organisation is None:
                    raise ValidationError("Unknown organisation.")
                if not confirmed(request):
                    return confirm(
                        request,
                        question=f"Remove {organisation.name} from {group.name}?",
                        consequence=f"{organisation.name} will no longer receive what is shared "
                        f"with {group.name}, nor be able to share to it; what it already "
                        "received stays. Its organisation admins are told by email.",
                        button="Remove",
                    )
                services.remove_from_trust_group(
                    acting_user=request.user, group=group, organisation=organisation
                )
                success = f"{organisation.name} was removed from {group.name}."
            elif add_form.is_valid():
                organisation = add_form.cleaned_data["organisation"]
                services.add_to_trust_group(
                    acting_user=request.user, group=group, organisation=organisation
                )
                success = f"{organisation.name} was added to {group.name}."
            else:
                raise ValidationError("Choose an organisation to add.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, success)
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
    permissions.require_platform_admin(request.user)
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
            messages.success(request, f"{join.organisation} was added to {join.group}.")
        else:
            services.reject_trust_group_request(acting_user=request.user, join=join)
            messages.success(request, f"The request of {join.organisation} was declined.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("trust-groups")


# --- API tokens --------------------------------------------------------------------------


@never_cache  # the page may show a new token
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's tokens. Creating one redirects back here (POST-redirect-GET): the secret is
    kept in the session for exactly one display, so a reload never creates a second token."""
    form = TokenForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.create_api_token(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=timezone.now() + timedelta(days=form.cleaned_data["expires_in_days"]),
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = secret
            messages.success(request, f"Token {token.name} created.")
            return redirect("tokens")
    return render(
        request,
        "portal/tokens.html",
        {
            "tokens": request.user.api_tokens.all(),
            "form": form,
            "secret": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of your own tokens, or, for an org admin, one of a member's."""
    token = selectors.access_token(user=request.user, token_id=token_id)
    if not confirmed(request):
        return confirm(
            request,
            question=f"Revoke the token {token.name} of {token.user.email}?",
            consequence="Tools using it lose API access at once.",
            button="Revoke the token",
        )
    services.revoke_api_token(token=token, acting_user=request.user)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("tokens" if token.user_id == request.user.pk else "members")


# --- Signing keys --------------------------------------------------------------------------


@login_required
def organisation_keys(request: HttpRequest) -> HttpResponse:
    """The organisation's signing keys with custody, window, status and fingerprint; its admins
    register a key of their own here (with a session that passed a second factor)."""
    if not permissions.is_member(request.user):
        raise Http404
    form = RegisterKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = organisation_keys_service.register_organisation_key(
                acting_user=request.user,
                public_key=form.cleaned_data["public_key"],
                second_factor=permissions.session_passed_second_factor(request),
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"Key {key.key_id} registered.")
            return redirect("organisation-keys")
    return _keys_page(request, form=form, status=400 if request.method == "POST" else 200)


def _keys_page(
    request: HttpRequest, *, form=None, status: int = 200, failed=None, failed_key=None
) -> HttpResponse:
    """The keys page; `failed` is a rotate or revoke form that did not pass, shown again (with
    its errors, open) on the row of `failed_key`. Each row's forms get ids of their own."""
    organisation = request.user.organisation
    keys = list(selectors.organisation_keys(organisation=organisation))
    rows = []
    for key in keys:
        rotate = RotateKeyForm(auto_id=f"rotate-{key.pk}-%s")
        revoke = RevokeKeyForm(auto_id=f"revoke-{key.pk}-%s")
        if failed_key is not None and key.pk == failed_key.pk:
            rotate, revoke = (
                (failed, revoke) if isinstance(failed, RotateKeyForm) else (rotate, failed)
            )
        rows.append({"key": key, "rotate_form": rotate, "revoke_form": revoke})
    return render(
        request,
        "portal/keys.html",
        {
            "organisation": organisation,
            "rows": rows,
            "form": form or RegisterKeyForm(),
            "failed_key": failed_key,
            "can_manage": permissions.can_administer_organisation(request.user),
            "second_factor": permissions.session_passed_second_factor(request),
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
@require_POST
def organisation_key_rotate(request: HttpRequest, key_id: str) -> HttpResponse:
    key = selectors.access_signing_key(user=request.user, key_id=key_id)
    form = RotateKeyForm(request.POST, auto_id=f"rotate-{key.pk}-%s")
    if form.is_valid():
        try:
            new = organisation_keys_service.rotate_organisation_key(
                acting_user=request.user,
                key=key,
                new_public_key=form.cleaned_data["public_key"],
                at=form.cleaned_data["at"],
                second_factor=permissions.session_passed_second_factor(request),
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"Key {key.key_id} rotated; {new.key_id} replaces it.")
            return redirect("organisation-keys")
    return _keys_page(request, failed=form, failed_key=key, status=400)


@login_required
@require_POST
def organisation_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    key = selectors.access_signing_key(user=request.user, key_id=key_id)
    form = RevokeKeyForm(request.POST, auto_id=f"revoke-{key.pk}-%s")
    if form.is_valid():
        try:
            organisation_keys_service.revoke_organisation_key(
                acting_user=request.user,
                key=key,
                reason=form.cleaned_data["reason"],
                at=form.cleaned_data["at"],
                second_factor=permissions.session_passed_second_factor(request),
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"Key {key.key_id} revoked.")
            return redirect("organisation-keys")
    return _keys_page(request, failed=form, failed_key=key, status=400)


@login_required
def organisation_key_entries(request: HttpRequest) -> HttpResponse:
    """Every log entry signed under the organisation's keys, newest first, a page at a time."""
    if not permissions.is_member(request.user):
        raise Http404
    organisation = request.user.organisation
    page = Paginator(selectors.entries_signed_for(organisation=organisation), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/key_entries.html", {"organisation": organisation, "page": page})
