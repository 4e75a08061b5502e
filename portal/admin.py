from django.contrib import admin

from portal.models import ApiToken, Organisation, TrustGroup, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "sector", "country", "stix_identity_id"]


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
    list_display = ["name", "user", "prefix", "scope", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["key_hash"]
