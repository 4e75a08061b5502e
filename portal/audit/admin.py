"""The audit trail in the Django admin: read-only, for platform admins."""

from django.contrib import admin

from portal.audit.models import AuditAnchor, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing here may be added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "action", "actor_email", "organisation", "target", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "target"]
    list_select_related = ["organisation"]


@admin.register(AuditAnchor)
class AuditAnchorAdmin(ReadOnlyAdmin):
    list_display = ["seq", "hash", "entry", "created_at"]
