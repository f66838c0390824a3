"""Connections, datasets and per-case runs in the admin. Every write calls a service (audited).

Credentials are write-only: the form has empty password inputs; leaving them empty keeps what was
saved. Datasets are edited as their Fides YAML, with errors by line, and show the paths each identity
reaches. Runs and the erasure journal are evidence: read-only, with "retry" on failed runs.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from audit.admin import ReadOnlyAdminMixin

from .datamap import as_csv, as_pdf, datamap_generate
from .fides import DatasetError
from .models import Connection, DataMapSnapshot, Dataset, ErasureJournal, SystemRun
from .services import (
    connection_save,
    connection_test,
    dataset_check,
    dataset_import,
    system_run_retry,
    system_run_waive,
)


class ConnectionForm(forms.ModelForm):
    url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="SQL systems: the SQLAlchemy URL with its password. Saved encrypted; never shown again. "
        "Leave empty to keep the saved one.",
    )
    secrets_json = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='HTTP systems: a JSON object of credentials, e.g. {"api_key": "..."}. Saved encrypted; '
        "never shown again. Leave empty to keep the saved ones.",
    )

    class Meta:
        model = Connection
        fields = ["system", "kind", "config", "owner_email", "rate_limit_per_second", "row_cap", "enabled"]

    def clean_secrets_json(self):
        value = self.cleaned_data["secrets_json"]
        if not value:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValidationError("Not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise ValidationError("A JSON object is expected.")
        return parsed


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["system", "kind", "enabled", "last_test_at", "last_test_result"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["system"]
    autocomplete_fields = ["system"]
    readonly_fields = ["secret_changed_at", "last_test_at", "last_test_result"]
    actions = ["test_connections"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = connection_save(
            system=data["system"],
            kind=data["kind"],
            actor=request.user,
            url=data.get("url") or None,
            secrets=data.get("secrets_json"),
            config=data.get("config", ""),
            owner_email=data.get("owner_email", ""),
            row_cap=data.get("row_cap"),
            rate_limit_per_second=data.get("rate_limit_per_second"),
        )
        if saved.enabled != data.get("enabled", True):
            Connection.objects.filter(pk=saved.pk).update(enabled=data.get("enabled", True))
        obj.pk = saved.pk

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Test connection", permissions=["change"])
    def test_connections(self, request, queryset):
        for conn in queryset.select_related("system"):
            try:
                result = connection_test(system=conn.system, actor=request.user)
                self.message_user(request, f"{conn.system.code}: {result}", messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, f"{conn.system.code}: {'; '.join(exc.messages)}", messages.ERROR)


class DatasetForm(forms.ModelForm):
    erase_json = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='{"collection": "delete" | "keep", "collection.field": "null" | "hash"}',
    )

    class Meta:
        model = Dataset
        fields = ["system", "text", "category_map"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["erase_json"] = json.dumps(self.instance.erase, indent=2)

    def clean(self):
        data = super().clean()
        try:
            data["erase"] = json.loads(data.get("erase_json") or "{}")
        except ValueError:
            self.add_error("erase_json", "Not valid JSON.")
            return data
        if data.get("system") and data.get("text"):
            try:
                with _dry_run():
                    dataset_import(
                        system=data["system"], text=data["text"], erase=data["erase"],
                        category_map=data.get("category_map") or {}, actor=None,
                    )  # fmt: skip
            except DatasetError as exc:
                self.add_error("text", [f"line {line}: {msg}" if line else msg for line, msg in exc.errors])
            except ValidationError as exc:
                self.add_error("erase_json", exc.messages)
        return data


class _dry_run:
    """Validate through the service inside a transaction that is always rolled back."""

    def __enter__(self):
        from django.db import transaction

        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def __exit__(self, exc_type, exc, tb):
        from django.db import transaction

        transaction.set_rollback(True)
        self._atomic.__exit__(exc_type, exc, tb)
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = ["fides_key", "system", "updated_at"]
    list_select_related = ["system"]
    autocomplete_fields = ["system"]
    readonly_fields = ["identity_paths"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        [saved, *_] = dataset_import(
            system=data["system"], text=data["text"], erase=data["erase"],
            category_map=data.get("category_map") or {}, actor=request.user,
        )  # fmt: skip
        obj.pk = saved.pk

    @admin.display(description="Paths each identity reaches (system → collection → field)")
    def identity_paths(self, obj):
        if not obj.pk:
            return "-"
        try:
            report = dataset_check(system=obj.system)
        except Exception as exc:  # noqa: BLE001 (a dead system still shows the page, with the reason)
            return f"Could not check the live schema: {type(exc).__name__}: {exc}"
        paths = format_html_join(
            "", "<li>{}</li>", ((f"{obj.system.code} → " + " → ".join(p),) for p in report.paths)
        )
        problems = format_html_join("", "<li><b>{}</b></li>", ((e,) for e in report.errors + report.warnings))
        return format_html("<ul>{}</ul><ul>{}</ul>", paths, problems)


@admin.register(SystemRun)
class SystemRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["case_id", "system", "action", "status", "attempts", "error", "finished_at"]
    list_filter = ["status", "action", "system"]
    list_select_related = ["system"]
    search_fields = ["=case_id"]
    readonly_fields = [
        "public_id", "case_id", "subject", "system", "action", "status", "counts", "truncated", "error",
        "attempts", "waived_reason", "created_at", "started_at", "finished_at",
    ]  # fmt: skip
    fields = readonly_fields
    actions = ["retry"]
    show_full_result_count = False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/retry/", wrap(self.retry_view), name="connectors_systemrun_retry_one"),
            path("<int:pk>/waive/", wrap(self.waive_view), name="connectors_systemrun_waive_one"),
            *super().get_urls(),
        ]

    def _back(self, request):
        target = request.META.get("HTTP_REFERER") or reverse("admin:connectors_systemrun_changelist")
        return redirect(
            target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else "/admin/"
        )

    def retry_view(self, request, pk):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            system_run_retry(run_id=pk, actor=request.user)
            self.message_user(request, "Retry queued.", messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        return self._back(request)

    def waive_view(self, request, pk):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            system_run_waive(run_id=pk, actor=request.user, reason=request.POST.get("reason", ""))
            self.message_user(request, "System waived for this case.", messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        return self._back(request)

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("connectors.operate_systemrun")

    @admin.action(description="Retry failed runs", permissions=["operate"])
    def retry(self, request, queryset):
        for run in queryset.filter(status__in=["failed", "pending"]):
            system_run_retry(run_id=run.pk, actor=request.user)
        self.message_user(request, "Retry queued.", messages.SUCCESS)


@admin.register(ErasureJournal)
class ErasureJournalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "system", "collection", "row_count", "at"]
    list_filter = ["system"]
    list_select_related = ["system"]
    show_full_result_count = False


@admin.register(DataMapSnapshot)
class DataMapAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The data map / Art. 30 record: generate, read (with what changed), download as CSV or PDF."""

    list_display = ["generated_at", "row_count", "downloads"]
    show_full_result_count = False
    change_list_template = "admin/connectors/datamapsnapshot/change_list.html"

    @admin.display(description="rows")
    def row_count(self, obj):
        return len(obj.rows)

    @admin.display(description="download")
    def downloads(self, obj):
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}">PDF</a>',
            reverse("admin:connectors_datamap_csv", args=[obj.pk]),
            reverse("admin:connectors_datamap_pdf", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("generate/", wrap(self.generate_view), name="connectors_datamap_generate"),
            path("<int:pk>/csv/", wrap(self.csv_view), name="connectors_datamap_csv"),
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="connectors_datamap_pdf"),
            *super().get_urls(),
        ]

    def generate_view(self, request):
        if not request.user.has_perm("connectors.add_datamapsnapshot"):
            raise PermissionDenied  # generating writes a snapshot and an audit event: officers only
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        snapshot, changes = datamap_generate(actor=request.user)
        summary = (
            f"added: {', '.join(changes.added) or '-'}; removed: {', '.join(changes.removed) or '-'}; "
            f"changed: {'; '.join(changes.changed) or '-'}"
        )
        self.message_user(
            request, f"Data map generated with {len(snapshot.rows)} rows. Since the last one — {summary}"
        )
        return redirect("admin:connectors_datamapsnapshot_changelist")

    def csv_view(self, request, pk):
        snapshot = get_object_or_404(DataMapSnapshot, pk=pk)
        response = HttpResponse(as_csv(snapshot), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="data-map-{snapshot.generated_at:%Y%m%d-%H%M}.csv"'
        )
        return response

    def pdf_view(self, request, pk):
        snapshot = get_object_or_404(DataMapSnapshot, pk=pk)
        response = HttpResponse(as_pdf(snapshot), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="art30-{snapshot.generated_at:%Y%m%d-%H%M}.pdf"'
        )
        return response
