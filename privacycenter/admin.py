"""Officers register authorized agents for the Data Rights Protocol; DRP requests are read-only here."""

from django.contrib import admin

from .models import DrpAgent, DrpRequest


@admin.register(DrpAgent)
class DrpAgentAdmin(admin.ModelAdmin):
    list_display = ["name", "agent_id", "active", "token_issued_at"]
    list_filter = ["active"]
    search_fields = ["name", "agent_id"]
    readonly_fields = ["token_issued_at", "created_at"]
    fields = ["agent_id", "name", "contact_email", "verify_key", "active", "token_issued_at", "created_at"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead: its requests keep pointing at it


@admin.register(DrpRequest)
class DrpRequestAdmin(admin.ModelAdmin):
    list_display = ["request_id", "agent", "exercise", "received_at", "case"]
    list_select_related = ["agent", "case"]
    list_filter = ["exercise", "agent"]
    readonly_fields = [f.name for f in DrpRequest._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
