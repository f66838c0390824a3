"""Admin screens. The log and delivered notices are evidence (read-only); every write goes through a service.

Custom pages (exports, corrections, notice preview) are plain admin views behind `get_urls()`, each
checking its permission and calling one service.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.admin import ReadOnlyAdminMixin
from inventory.admin_search import SubjectEmailSearchMixin
from inventory.models import ThirdParty

from . import rules, selectors, services
from .admin_tools import CalendarYearFilter, DeliveredYearFilter, subject_id_for
from .models import (
    CategoryMapping,
    CorrectionRecipient,
    DisclosureBatch,
    DisclosureEvent,
    DisclosureExport,
    DisclosureNoticeRequest,
    DisclosureSettings,
    NoticeCorrection,
)
from .notice import CONTENT_TYPES, render
from .statutory import categories_of
from .views import notice_response

ACTION_CHANGELIST = "admin/disclosures/change_list_with_action.html"
FORM_PAGE = "admin/disclosures/form_page.html"


class RequirementBannerMixin:
    """Every disclosures changelist says whether §1798.83 applies (the employee-count gate)."""

    def changelist_view(self, request, extra_context=None):
        need = selectors.requirement()
        if not need.required:
            messages.info(request, need.reason)
        elif need.employee_count is None:
            messages.warning(request, need.reason)
        return super().changelist_view(request, extra_context)


def _categories(mask: int) -> str:
    return "; ".join(c.label for c in categories_of(mask)) or "—"


def _form_page(request, admin_obj, *, title: str, form, submit: str, intro: str = "") -> TemplateResponse:
    context = {
        **admin_obj.admin_site.each_context(request),
        "title": title,
        "form": form,
        "submit": submit,
        "intro": intro,
        "opts": admin_obj.model._meta,
    }
    return TemplateResponse(request, FORM_PAGE, context)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


# --- settings and mapping --------------------------------------------------------------------------


@admin.register(DisclosureSettings)
class DisclosureSettingsAdmin(RequirementBannerMixin, admin.ModelAdmin):
    fieldsets = [
        ("Who must comply (§1798.83(a), (c)(1))", {"fields": ["employee_count"]}),
        ("Opt-out route (§1798.83(c)(2))", {"fields": ["opt_out_route_enabled"]}),
        ("Sender shown on notices", {"fields": ["business_name", "business_postal_address"]}),
        (
            "Designated request channels (§1798.83(b)(1))",
            {"fields": ["designated_postal_address", "designated_email", "designated_phone"]},
        ),
        ("Same-brand affiliates (§1798.83(f))", {"fields": ["show_same_brand_affiliate_count"]}),
        ("Last change", {"fields": ["updated_at", "updated_by_label"]}),
    ]
    readonly_fields = ["updated_at", "updated_by_label"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """One row: the list opens it."""
        obj = selectors.disclosure_settings()
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:disclosures_disclosuresettings_change", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            need = selectors.requirement()
            (messages.warning if need.employee_count is None else messages.info)(request, need.reason)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in services.SETTINGS_FIELDS
        }
        saved = services.disclosure_settings_update(actor=request.user, **changes)
        obj.updated_at, obj.updated_by_label = saved.updated_at, saved.updated_by_label


@admin.register(CategoryMapping)
class CategoryMappingAdmin(RequirementBannerMixin, admin.ModelAdmin):
    list_display = ["data_category", "field", "statutory_category", "note"]
    list_filter = ["data_category", "statutory_category"]
    search_fields = ["field", "statutory_category", "note"]
    list_select_related = ["data_category"]
    show_full_result_count = False
    ordering = ["data_category__code", "field"]

    def save_model(self, request, obj, form, change):
        services.category_mapping_save(mapping=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.category_mapping_delete(mapping=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for mapping in queryset.select_related("data_category"):
            services.category_mapping_delete(mapping=mapping, actor=request.user)


# --- the log (evidence) ----------------------------------------------------------------------------


@admin.register(DisclosureBatch)
class DisclosureBatchAdmin(RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "third_party",
        "purpose",
        "at",
        "member_count",
        "excluded_count",
        "categories_display",
        "source",
        "recorded_at",
    ]
    list_filter = ["purpose", CalendarYearFilter, "third_party", "source"]
    search_fields = ["=external_id", "agreement_reference", "third_party__legal_name"]
    date_hierarchy = "at"
    list_select_related = ["third_party"]
    show_full_result_count = False
    readonly_fields = [
        "public_id",
        "external_id",
        "third_party",
        "purpose",
        "categories_display",
        "data_categories",
        "at",
        "agreement_reference",
        "member_count",
        "excluded_count",
        "members_link",
        "source",
        "recorded_at",
        "recorded_by_label",
    ]
    fields = readonly_fields

    @admin.display(description="batch")
    def short_id(self, obj):
        return str(obj.public_id)[:8]

    @admin.display(description="statutory categories")
    def categories_display(self, obj):
        return _categories(obj.categories)

    @admin.display(description="members")
    def members_link(self, obj):
        url = reverse("admin:disclosures_disclosureevent_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">{} disclosure events</a>', url, obj.member_count)


@admin.register(DisclosureEvent)
class DisclosureEventAdmin(
    SubjectEmailSearchMixin, RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = ["id", "subject", "third_party", "purpose", "categories_display", "at", "batch"]
    list_filter = ["purpose", CalendarYearFilter, "third_party"]
    search_fields = ["=subject__public_id"]  # and email (SubjectEmailSearchMixin)
    date_hierarchy = "at"
    list_select_related = ["subject", "third_party", "batch"]
    raw_id_fields = ["subject", "third_party", "batch"]
    show_full_result_count = False
    readonly_fields = [
        "subject",
        "third_party",
        "purpose",
        "categories_display",
        "at",
        "agreement_reference",
        "batch",
    ]
    fields = readonly_fields

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in {"batch__id__exact", "subject__id__exact", "third_party__id__exact"}:
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="statutory categories")
    def categories_display(self, obj):
        return _categories(obj.categories)


# --- notices ---------------------------------------------------------------------------------------


class NoticePreviewForm(forms.Form):
    subject = forms.CharField(label="Customer email or public id", max_length=254)
    year = forms.IntegerField(min_value=services.FIRST_NOTICE_YEAR)
    format = forms.ChoiceField(choices=[("html", "HTML"), ("pdf", "PDF"), ("txt", "Plain text")])


@admin.register(DisclosureNoticeRequest)
class DisclosureNoticeRequestAdmin(
    SubjectEmailSearchMixin, RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "short_id",
        "subject",
        "year",
        "kind",
        "case_reference",
        "delivered_at",
        "repeat_in_year",
        "required",
        "links",
    ]
    list_filter = ["year", DeliveredYearFilter, "kind", "repeat_in_year", "required"]
    search_fields = ["=case_reference", "=subject__public_id"]  # and email (SubjectEmailSearchMixin)
    date_hierarchy = "delivered_at"
    list_select_related = ["subject"]
    raw_id_fields = ["subject", "correction"]
    show_full_result_count = False
    change_list_template = ACTION_CHANGELIST
    readonly_fields = [
        "public_id",
        "subject",
        "year",
        "kind",
        "case_reference",
        "delivered_at",
        "notice_id",
        "repeat_in_year",
        "required",
        "correction",
        "links",
        "statement",
    ]
    fields = readonly_fields

    @admin.display(description="notice")
    def short_id(self, obj):
        return str(obj.public_id)[:8]

    @admin.display(description="as sent")
    def links(self, obj):
        return format_html(
            '<a href="{}">HTML</a> · <a href="{}">PDF</a> · <a href="{}">text</a>',
            *(
                reverse("admin:disclosures_notice_render", args=[obj.pk, fmt])
                for fmt in ("html", "pdf", "txt")
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/notice/<str:fmt>/",
                self.admin_site.admin_view(self.render_view),
                name="disclosures_notice_render",
            ),
            path(
                "preview/", self.admin_site.admin_view(self.preview_view), name="disclosures_notice_preview"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {
            "action_url": reverse("admin:disclosures_notice_preview"),
            "action_label": "Preview a notice",
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def render_view(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        if not self.has_view_permission(request) or fmt not in CONTENT_TYPES:
            raise PermissionDenied
        row = get_object_or_404(DisclosureNoticeRequest, pk=pk)
        services.notice_viewed(request=row, fmt=fmt, actor=request.user)
        return notice_response(row, fmt)

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_view_permission(request) and request.user.has_perm("inventory.view_datasubject")):
            raise PermissionDenied
        form = NoticePreviewForm(request.GET or None, initial={"year": rules.year_of(timezone.now()) - 1})
        if form.is_valid():
            subject_id = [pk] if (pk := subject_id_for(form.cleaned_data["subject"])) else []
            if not subject_id:
                form.add_error("subject", "No customer has this email address or public id.")
            else:
                try:
                    content = services.notice_previewed(
                        subject_id=subject_id[0], year=form.cleaned_data["year"], actor=request.user
                    )
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    fmt = form.cleaned_data["format"]
                    return HttpResponse(render(content, fmt), content_type=CONTENT_TYPES[fmt])
        return _form_page(
            request,
            self,
            title="Preview a customer's §1798.83 notice",
            form=form,
            submit="Preview",
            intro="Shows what the notice would say now, from the disclosure log. Nothing is sent; the look is audited.",
        )


# --- corrections (§1798.84(d)) ---------------------------------------------------------------------


class CorrectionForm(forms.Form):
    year = forms.IntegerField(
        min_value=services.FIRST_NOTICE_YEAR, help_text="Calendar year the notices covered."
    )
    reason = forms.CharField(
        widget=forms.Textarea, help_text="What was wrong. No customer names or addresses."
    )
    discovered_at = forms.DateTimeField(
        required=False,
        help_text="When the business knew or should have known (default: now). Starts the 90 days.",
    )
    third_party = forms.ModelChoiceField(
        ThirdParty.objects.all(),
        required=False,
        help_text="Only customers where this recipient is concerned.",
    )
    all_requesters = forms.BooleanField(
        required=False, help_text="Every customer who got a notice for the year, even if theirs looks right."
    )


@admin.register(NoticeCorrection)
class NoticeCorrectionAdmin(RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "year",
        "status",
        "third_party",
        "discovered_at",
        "cure_deadline",
        "days_left",
        "affected_count",
        "sent_count",
    ]
    list_filter = ["status", "year", "third_party"]
    search_fields = ["=public_id", "third_party__legal_name"]
    date_hierarchy = "discovered_at"
    list_select_related = ["third_party"]
    show_full_result_count = False
    change_list_template = ACTION_CHANGELIST
    actions = ["send_corrected_notices"]
    readonly_fields = [
        "public_id",
        "year",
        "reason",
        "third_party",
        "discovered_at",
        "cure_deadline",
        "days_left",
        "status",
        "affected_count",
        "sent_count",
        "recipients_link",
        "created_at",
        "created_by_label",
        "closed_at",
    ]
    fields = readonly_fields

    @admin.display(description="correction")
    def short_id(self, obj):
        return str(obj.public_id)[:8]

    @admin.display(description="days left of 90")
    def days_left(self, obj):
        if obj.closed_at:
            return "—"
        return (obj.cure_deadline - timezone.now()).days

    @admin.display(description="affected customers")
    def recipients_link(self, obj):
        url = reverse("admin:disclosures_correctionrecipient_changelist") + f"?correction__id__exact={obj.pk}"
        return format_html('<a href="{}">{} customers</a>', url, obj.affected_count)

    def has_manage_correction_permission(self, request) -> bool:
        return request.user.has_perm("disclosures.manage_correction")

    @admin.action(
        description="Send the corrected notices to every pending customer", permissions=["manage_correction"]
    )
    def send_corrected_notices(self, request, queryset):
        for correction in queryset:
            services.correction_send_start(correction_id=correction.pk, actor=request.user)
        self.message_user(request, f"Sending corrected notices for {queryset.count()} correction(s).")

    def get_urls(self):
        return [
            path("open/", self.admin_site.admin_view(self.open_view), name="disclosures_correction_open"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {}
        if request.user.has_perm("disclosures.manage_correction"):
            extra = {
                "action_url": reverse("admin:disclosures_correction_open"),
                "action_label": "Open a correction",
            }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def open_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("disclosures.manage_correction"):
            raise PermissionDenied
        form = CorrectionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                correction = services.correction_open(
                    year=data["year"],
                    reason=data["reason"],
                    discovered_at=data["discovered_at"],
                    third_party_id=data["third_party"].pk if data["third_party"] else None,
                    all_requesters=data["all_requesters"],
                    actor=request.user,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                self.message_user(
                    request,
                    f"Correction opened: {correction.affected_count} customers affected; "
                    f"90-day deadline {correction.cure_deadline:%Y-%m-%d}.",
                )
                return HttpResponseRedirect(
                    reverse("admin:disclosures_noticecorrection_change", args=[correction.pk])
                )
        return _form_page(
            request,
            self,
            title="Open a §1798.84(d) correction",
            form=form,
            submit="Open correction",
            intro="Finds every customer whose notice for the year differs from the disclosure log as it stands, "
            "and starts the 90-day clock.",
        )


@admin.register(CorrectionRecipient)
class CorrectionRecipientAdmin(RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "correction", "subject", "status", "added_at", "sent_at", "corrected_request"]
    list_filter = ["status"]
    list_select_related = ["correction", "subject", "corrected_request"]
    raw_id_fields = ["correction", "subject", "original_request", "corrected_request"]
    show_full_result_count = False

    def lookup_allowed(self, lookup, value, request=None):
        if lookup == "correction__id__exact":
            return True
        return super().lookup_allowed(lookup, value, request)


# --- exports ---------------------------------------------------------------------------------------


class ExportForm(forms.Form):
    year = forms.IntegerField(min_value=services.FIRST_NOTICE_YEAR)
    format = forms.ChoiceField(choices=DisclosureExport.Format.choices)
    notice_format = forms.ChoiceField(
        choices=DisclosureExport.NoticeFormat.choices, help_text="For the ZIP of notices only."
    )


@admin.register(DisclosureExport)
class DisclosureExportAdmin(RequirementBannerMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "year",
        "format",
        "status",
        "row_count",
        "size_bytes",
        "requested_by_label",
        "requested_at",
        "finished_at",
        "download",
    ]
    list_filter = ["status", "format", "year"]
    search_fields = ["=public_id", "requested_by_label"]
    date_hierarchy = "requested_at"
    show_full_result_count = False
    change_list_template = ACTION_CHANGELIST
    actions = ["retry"]
    exclude = ["file_name", "task_id"]

    @admin.display(description="export")
    def short_id(self, obj):
        return str(obj.public_id)[:8]

    @admin.display(description="file")
    def download(self, obj):
        if obj.status != DisclosureExport.Status.READY:
            return obj.get_status_display()
        return format_html(
            '<a href="{}">Download</a>', reverse("admin:disclosures_export_download", args=[obj.pk])
        )

    def has_run_export_permission(self, request) -> bool:
        return request.user.has_perm("disclosures.run_export")

    @admin.action(description="Retry failed exports", permissions=["run_export"])
    def retry(self, request, queryset):
        retried = sum(services.export_retry(export_id=e.pk, actor=request.user) for e in queryset)
        self.message_user(request, f"{retried} export(s) queued again.")

    def get_urls(self):
        return [
            path("new/", self.admin_site.admin_view(self.new_view), name="disclosures_export_new"),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="disclosures_export_download",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {}
        if request.user.has_perm("disclosures.run_export"):
            extra = {"action_url": reverse("admin:disclosures_export_new"), "action_label": "New export"}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def new_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("disclosures.run_export"):
            raise PermissionDenied
        form = ExportForm(
            request.POST or None,
            initial={"year": rules.year_of(timezone.now()) - 1, "format": "csv", "notice_format": "pdf"},
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.export_request(
                    year=form.cleaned_data["year"],
                    fmt=form.cleaned_data["format"],
                    notice_format=form.cleaned_data["notice_format"],
                    actor=request.user,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                self.message_user(request, "Export queued: it is offered for download here when ready.")
                return HttpResponseRedirect(reverse("admin:disclosures_disclosureexport_changelist"))
        return _form_page(
            request,
            self,
            title="New §1798.83 export",
            form=form,
            submit="Build export",
            intro="Built in the background. The file is kept for 7 days; every download is audited.",
        )

    def download_view(self, request: HttpRequest, pk: int) -> FileResponse:
        if not request.user.has_perm("disclosures.run_export"):
            raise PermissionDenied
        export = get_object_or_404(DisclosureExport, pk=pk)
        file_path = services.export_file_path(export)
        if file_path is None:
            raise Http404("This export is not ready or has expired.")
        services.export_downloaded(export=export, actor=request.user)
        suffix = file_path.suffix
        name = f"1798-83-{export.year}-{export.format}{suffix}"
        return FileResponse(open(file_path, "rb"), as_attachment=True, filename=name)  # noqa: SIM115
