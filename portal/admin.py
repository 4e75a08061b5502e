"""The Django admin: a read-only window on the community.

Every change that matters (roles, activation, organisations' names, trust groups, tokens) goes
through portal.services, which check permissions, keep the last-admin guard and write the
audit trail; the admin cannot edit those rows directly. Two doors stay open, both through the
services: creating an organisation (with its signing key) and revoking API tokens.
"""

from django.contrib import admin, messages
from django.http import HttpRequest

from portal import services
from portal.audit.admin import ReadOnlyAdmin
from portal.models import ApiToken, Organisation, TrustGroup, User


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ["name", "sector", "country", "stix_identity_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff

    def save_model(self, request, obj, form, change) -> None:
        # Only additions reach here (changes are refused): a new organisation needs its signing
        # key and its audit row, so it goes through the service, not a bare save.
        created = services.create_organisation(
            name=obj.name, sector=obj.sector, country=obj.country, acting_user=request.user
        )
        obj.pk, obj.stix_identity_id = created.pk, created.stix_identity_id


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    """Roles and activation are changed on the organisation's members page (audited, with the
    last-admin guard); platform admins are made with `manage.py createsuperuser`."""

    list_display = ["email", "organisation", "role", "is_active", "is_staff", "last_login"]
    list_filter = ["role", "is_active", "is_staff"]
    exclude = ["password", "user_permissions", "groups"]


@admin.register(TrustGroup)
class TrustGroupAdmin(ReadOnlyAdmin):
    """Managed on the portal's trust-group pages, which notify the members' admins."""

    list_display = ["name", "retired_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are made by their owners (the secret is shown to them once); admins may revoke
    them, through the service, with the "Revoke" action. A revoked token stays revoked."""

    list_display = ["name", "user", "prefix", "scope", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset) -> None:
        count = 0
        for token in queryset.select_related("user").filter(revoked_at__isnull=True):
            services.revoke_api_token(token=token, acting_user=request.user)
            count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
