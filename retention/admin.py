"""Retention in the admin: schedules (with a dry-run preview before saving), legal holds, sweep runs
with a "sweep now" button, and the read-only evidence (certificates, journal). Every write calls a service.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin import ReadOnlyAdminMixin
from core import clock
from inventory.registry import registry

from . import selectors, services
from .certificate_document import certificate_pdf, certificate_sections
from .dry_run import sweep_dry_run
from .models import (
    ErasureCertificate,
    ErasureJournal,
    LegalHold,
    RetentionSchedule,
    SweepBatch,
    SweepRun,
)


def _pretty(value) -> str:
    return format_html(
        "<pre style='white-space: pre-wrap'>{}</pre>",
        json.dumps(value, indent=2, default=str, ensure_ascii=False),
    )


# --- schedules --------------------------------------------------------------------------------------


def _model_choices() -> list[tuple[str, str]]:
    entries = sorted((e for e in registry if not e.append_only), key=lambda e: (e.category, e.label))
    return [("", "All kinds of record in the category")] + [
        (e.label, f"{e.label} ({e.category})") for e in entries
    ]


def _anchor_choices() -> list[tuple[str, str]]:
    anchors: dict[str, set[str]] = {}
    for entry in registry:
        for name in entry.timestamp_fields:
            anchors.setdefault(name, set()).add(entry.model._meta.model_name)
    return [
        (name, f"{name.replace('_', ' ')} ({', '.join(sorted(models))})")
        for name, models in sorted(anchors.items())
    ]


class RetentionScheduleForm(forms.ModelForm):
    class Meta:
        model = RetentionSchedule
        fields = list(services.SCHEDULE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A user with view permission only gets a form without fields (everything is read-only).
        if "model_label" in self.fields:
            self.fields["model_label"] = forms.ChoiceField(
                choices=_model_choices,
                required=False,
                label="Kind of record",
                help_text=self.fields["model_label"].help_text,
            )
        if "anchor" in self.fields:
            self.fields["anchor"] = forms.ChoiceField(
                choices=_anchor_choices, label="Counted from", help_text=self.fields["anchor"].help_text
            )

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.retention_schedule_check(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(RetentionSchedule)
class RetentionScheduleAdmin(admin.ModelAdmin):
    form = RetentionScheduleForm
    list_display = (
        "__str__",
        "category",
        "model_label",
        "system",
        "source",
        "period_display",
        "anchor",
        "action",
        "citation",
        "is_default",
        "active",
    )
    list_filter = ("active", "is_default", "action", "category")
    list_select_related = ("category", "system", "source")
    show_full_result_count = False
    search_fields = ("citation", "legal_basis", "model_label")
    readonly_fields = ("effect_now", "created_at", "updated_at")
    fieldsets = (
        ("Scope", {"fields": ("category", "model_label", "system", "source")}),
        ("Period", {"fields": ("period_months", "period_days", "anchor", "action")}),
        (
            "Another system's collection (optional: the system above, then the dataset's names)",
            {"fields": ("external_collection", "external_timestamp_field")},
        ),
        ("Basis", {"fields": ("legal_basis", "citation", "is_default", "active")}),
        ("Effect", {"fields": ("effect_now", "created_at", "updated_at")}),
    )
    actions = ["sweep_selected_now"]

    @admin.display(description="Period")
    def period_display(self, obj: RetentionSchedule) -> str:
        return str(obj.period)

    @admin.display(description="Would erase now")
    def effect_now(self, obj: RetentionSchedule) -> str:
        if obj.pk is None:
            return "Shown before saving."
        if not obj.active:
            return "Inactive: erases nothing."
        rows = selectors.forecast(schedules=[obj])
        return (
            format_html_join(
                "",
                "<div>{}: {} record(s) would be erased by a sweep now, {} kept under legal hold{}</div>",
                ((r.model_label, r.would_erase, r.held, f" ({r.error})" if r.error else "") for r in rows),
            )
            or "Nothing in scope."
        )

    def has_delete_permission(self, request, obj=None):
        return False  # switch a schedule off instead: its history stays in the audit trail

    def has_run_sweep_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("retention.run_sweep")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Before saving, show what the schedule as edited would erase now, and ask to confirm."""
        if request.method == "POST" and "_confirmed" not in request.POST:
            obj = self.get_object(request, unquote(object_id)) if object_id else None
            if object_id and obj is None:
                return super().changeform_view(request, object_id, form_url, extra_context)
            if (obj is None and not self.has_add_permission(request)) or (
                obj is not None and not self.has_change_permission(request, obj)
            ):
                raise PermissionDenied
            form = self.get_form(request, obj, change=obj is not None)(
                request.POST, request.FILES, instance=obj
            )
            if form.is_valid():
                candidate = form.save(commit=False)
                rows = selectors.schedule_forecast(candidate) if candidate.active else []
                context = {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": "Confirm the retention schedule",
                    "schedule": candidate,
                    "rows": rows,
                    "would_erase": sum(r.would_erase for r in rows),
                    "held": sum(r.held for r in rows),
                    "posted": [
                        (k, v)
                        for k in request.POST
                        for v in request.POST.getlist(k)
                        if k != "csrfmiddlewaretoken"
                    ],
                    "changed": form.changed_data,
                }
                return TemplateResponse(request, "admin/retention/retentionschedule/confirm.html", context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.SCHEDULE_FIELDS
            }
            services.retention_schedule_update(schedule_id=obj.pk, actor=request.user, **changes)
        else:
            data = {
                name: form.cleaned_data[name]
                for name in services.SCHEDULE_FIELDS
                if name in form.cleaned_data
            }
            saved = services.retention_schedule_create(actor=request.user, **data)
            obj.pk = saved.pk

    @admin.action(description="Sweep the selected schedules now", permissions=["run_sweep"])
    def sweep_selected_now(self, request, queryset):
        _sweep_now(request, schedule_ids=list(queryset.values_list("pk", flat=True)))


def _sweep_now(
    request: HttpRequest, *, schedule_ids: list[int] | None = None, confirmed_count: int | None = None
) -> None:
    try:
        run = services.sweep_request(
            actor=request.user, trigger=SweepRun.Trigger.ADMIN, schedule_ids=schedule_ids
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return
    if getattr(run, "resumed", False):
        messages.info(request, f"A sweep was already running ({str(run.public_id)[:8]}); it was resumed.")
    else:
        confirmed = "" if confirmed_count is None else f" (confirmed: {confirmed_count} records)"
        messages.success(
            request, f"Sweep {str(run.public_id)[:8]} queued{confirmed}; the workers are erasing now."
        )


# --- legal holds ------------------------------------------------------------------------------------


class HoldStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("ended", "Released or ended")]

    def queryset(self, request, queryset):
        active = selectors.active_holds().values("pk")
        if self.value() == "active":
            return queryset.filter(pk__in=active)
        if self.value() == "ended":
            return queryset.exclude(pk__in=active)
        return queryset


class ReleaseForm(forms.Form):
    release_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why does the hold end?")


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "subject",
        "category",
        "case_reference",
        "exception_code",
        "owner_label",
        "placed_at",
        "ends_on",
        "status",
    )
    list_filter = (HoldStatusFilter, "exception_code", "category")
    list_select_related = ("subject", "category")
    search_fields = ("=case_reference", "=public_id", "=subject__public_id")
    raw_id_fields = ("subject", "owner")
    show_full_result_count = False
    actions = ["release_selected"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("subject", "category", "case_reference", "exception_code", "reason", "owner", "ends_on")
        return (
            "public_id",
            "subject",
            "category",
            "case_reference",
            "exception_code",
            "owner_label",
            "placed_at",
            "reason",
            "ends_on",
            "released_at",
            "released_by",
            "release_reason",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        editable = {"reason", "ends_on"} if obj.released_at is None else set()
        return tuple(f for f in self.get_fields(request, obj) if f not in editable)

    @admin.display(description="Status")
    def status(self, obj: LegalHold) -> str:
        if obj.released_at:
            return "Released"
        if obj.ends_on and obj.ends_on < clock.business_today():
            return "Ended"
        return "Active"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.released_at is not None:
            return False  # a released hold is a record; legal_hold_update refuses it anyway
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # release a hold instead: the record of it must stay

    def save_model(self, request, obj, form, change):
        if change:
            services.legal_hold_update(
                hold_id=obj.pk,
                actor=request.user,
                ends_on=obj.ends_on,
                reason=form.cleaned_data.get("reason"),
            )
            return
        hold = services.legal_hold_place(
            subject_id=obj.subject_id,
            category=obj.category.code if obj.category_id else None,
            case_reference=obj.case_reference,
            reason=obj.reason,
            owner=obj.owner or request.user,
            ends_on=obj.ends_on,
            actor=request.user,
            exception_code=obj.exception_code,
        )
        obj.pk = hold.pk

    @admin.action(description="Release the selected holds", permissions=["change"])
    def release_selected(self, request, queryset):
        form = ReleaseForm(request.POST if "release_reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            released = 0
            for hold in queryset.filter(released_at__isnull=True):
                services.legal_hold_release(
                    hold_id=hold.pk, actor=request.user, reason=form.cleaned_data["release_reason"]
                )
                released += 1
            messages.success(request, f"{released} hold(s) released; their records are erasable again.")
            return None
        return TemplateResponse(
            request,
            "admin/retention/legalhold/release.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Release legal holds",
                "holds": queryset.select_related("category"),
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


# --- sweeps and evidence ----------------------------------------------------------------------------


class SweepBatchInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SweepBatch
    fields = ("kind", "model_label", "category", "lo", "hi", "status", "erased", "kept", "counts", "attempts",
              "error_code", "duration_ms")  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "trigger",
        "actor_label",
        "started_at",
        "finished_at",
        "erased_count",
        "kept_count",
        "error_count",
        "certificate_link",
    )
    list_filter = ("status", "trigger")
    search_fields = ("=public_id", "actor_label")
    list_select_related = ("certificate",)
    show_full_result_count = False
    date_hierarchy = "started_at"
    inlines = [SweepBatchInline]
    fields = (
        "public_id",
        "status",
        "trigger",
        "actor_label",
        "as_of",
        "schedule_ids",
        "include_minors",
        "started_at",
        "planned_at",
        "finished_at",
        "erased_count",
        "kept_count",
        "error_count",
        "summary_pretty",
        "certificate_link",
    )
    readonly_fields = fields

    @admin.display(description="Per category")
    def summary_pretty(self, obj: SweepRun) -> str:
        return _pretty(obj.summary)

    @admin.display(description="Certificate")
    def certificate_link(self, obj: SweepRun) -> str:
        if not obj.certificate_id:
            return "-"
        url = reverse("admin:retention_erasurecertificate_change", args=[obj.certificate_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.certificate.public_id)[:8])

    def get_urls(self):
        return [
            path(
                "sweep-now/",
                self.admin_site.admin_view(self.sweep_now_view),
                name="retention_sweeprun_sweep_now",
            ),
            path(
                "preview/", self.admin_site.admin_view(self.preview_view), name="retention_sweeprun_preview"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sweep": request.user.has_perm("retention.run_sweep")}
        return super().changelist_view(request, extra_context)

    def sweep_now_view(self, request):
        """Two steps: the dry run's figures (minors included) and the count to confirm, then the sweep.
        A confirmation whose count no longer matches the data is asked again with the new figures."""
        if not request.user.has_perm("retention.run_sweep"):
            raise PermissionDenied
        dry = sweep_dry_run()
        confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
        if confirmed and request.POST.get("count") == str(dry.would_erase):
            _sweep_now(request, confirmed_count=dry.would_erase)
            return HttpResponseRedirect(reverse("admin:retention_sweeprun_changelist"))
        if confirmed:
            messages.warning(request, "The figures changed since the confirmation page: check them again.")
        return self._dry_run_page(request, dry, confirm=True)

    def preview_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._dry_run_page(request, sweep_dry_run(), confirm=False)

    def _dry_run_page(self, request, dry, *, confirm: bool):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Sweep now: confirm" if confirm else "What a sweep now would erase (dry run)",
            "rows": dry.rows,
            "would_erase": dry.would_erase,
            "records_would_erase": dry.records_would_erase,
            "minors_would_erase": dry.minors_would_erase,
            "held": dry.held,
            "open_request": dry.open_request,
            "minors": len(dry.minors),
            "confirm": confirm,
        }
        return TemplateResponse(request, "admin/retention/sweeprun/preview.html", context)


@admin.register(ErasureCertificate)
class ErasureCertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "issued_at",
        "subject_id",
        "case_reference",
        "erased_count",
        "kept_count",
        "key_destroyed",
        "minor",
    )
    list_filter = ("kind", "minor", "key_destroyed")
    search_fields = ("=public_id", "=case_reference", "=subject__id")
    show_full_result_count = False
    date_hierarchy = "issued_at"
    fields = (
        "public_id",
        "kind",
        "issued_at",
        "subject_id",
        "sweep_run_id_ref",
        "reason",
        "case_reference",
        "minor",
        "actor_label",
        "erased_count",
        "kept_count",
        "key_destroyed",
        "printable",
        "summary_pretty",
    )
    readonly_fields = fields

    @admin.display(description="What, how, and what was kept")
    def summary_pretty(self, obj: ErasureCertificate) -> str:
        return _pretty(obj.summary)

    @admin.display(description="Printable certificate")
    def printable(self, obj: ErasureCertificate) -> str:
        return format_html(
            '<a href="{}">HTML (print)</a> · <a href="{}">PDF</a>',
            reverse("admin:retention_erasurecertificate_print", args=[obj.pk]),
            reverse("admin:retention_erasurecertificate_pdf", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/print/", wrap(self.print_view), name="retention_erasurecertificate_print"),
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="retention_erasurecertificate_pdf"),
            *super().get_urls(),
        ]

    def print_view(self, request: HttpRequest, pk: int):
        certificate = self._certificate(request, pk)
        context = {"certificate": certificate, "sections": certificate_sections(certificate)}
        return TemplateResponse(request, "admin/retention/erasurecertificate/print.html", context)

    def pdf_view(self, request: HttpRequest, pk: int):
        certificate = self._certificate(request, pk)
        response = HttpResponse(certificate_pdf(certificate), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="erasure-certificate-{certificate.public_id}.pdf"'
        )
        return response

    def _certificate(self, request: HttpRequest, pk: int) -> ErasureCertificate:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ErasureCertificate, pk=pk)


@admin.register(ErasureJournal)
class ErasureJournalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "at",
        "model_label",
        "method",
        "record_count",
        "subject_id",
        "sweep_run_id",
        "certificate_ref",
    )
    list_filter = ("method", "model_label")
    search_fields = ("=certificate_ref", "=subject_id", "=sweep_run__id")
    show_full_result_count = False
    date_hierarchy = "at"
    fields = ("at", "model_label", "method", "record_count", "record_pks", "subject_id", "sweep_run_id",
              "certificate_ref")  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # The id lists can be long; the changelist shows counts only.
        return (
            queryset.defer("record_pks")
            if request.resolver_match.url_name.endswith("changelist")
            else queryset
        )
