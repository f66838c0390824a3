from django.contrib import admin

from .models import AuditEvent


class NoEditAdminMixin:
    """Rows are written by services only: no edit, no delete, no bulk "delete selected"."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdminMixin(NoEditAdminMixin):
    """Evidence is read-only: nobody adds, edits or deletes it through the admin."""

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "at", "actor_label", "action", "target_type", "target_id", "subject_id")
    list_filter = ("action", "target_type")
    search_fields = ("=target_id", "=subject_id", "action", "actor_label")
    date_hierarchy = "at"
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
