from django.contrib import admin

from portal import services
from portal.models import ApiToken, Organisation, TrustGroup, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "sector", "country", "stix_identity_id"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new organisation needs its signing key: go through the service, not a bare save.
        created = services.create_organisation(
            name=obj.name, sector=obj.sector, country=obj.country
        )
        obj.pk, obj.stix_identity_id = created.pk, created.stix_identity_id


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "organisation", "role", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    exclude = ["password"]


@admin.register(TrustGroup)
class TrustGroupAdmin(admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["members"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owners (the secret is shown to them once); admins may revoke."""

    list_display = ["name", "user", "prefix", "scope", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["key_hash"]
    readonly_fields = ["user", "name", "prefix", "scope", "expires_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False
