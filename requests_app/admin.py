"""The privacy officers' screens: the case list with deadline colours, the case page with its timeline,
and workflow actions. Every action calls a service; case fields are never edited directly."""

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin import ReadOnlyAdminMixin
from inventory import crypto
from inventory.admin_search import SubjectEmailSearchMixin
from inventory.display import may_reveal
from inventory.selectors import subject_search

from . import case_page, deadlines, selectors, services
from .case_actions import CASE_ACTIONS, CASE_ACTIONS_BY_NAME, CaseAction  # noqa: F401 (CASE_ACTIONS re-exported)
from .forms import (
    DenyForm,
    ReasonForm,
)
from .models import (
    OPEN_STATUSES,
    AccessPackage,
    CaseEvent,
    FulfilmentAttempt,
    PrivacyRequest,
    RecipientNotification,
    Rectification,
    Status,
)
from .officer_forms import AdminIntakeForm

DUE_COLOURS = {
    "overdue": ("#b00020", "Overdue"),
    "due_soon": ("#c77700", "Due soon"),
    "on_track": ("#2e7d32", "On track"),
    "unknown": ("#666", "No date"),
    "closed": ("#999", "Closed"),
}
STATUS_COLOURS = {
    Status.RECEIVED: "#1565c0",
    Status.VERIFYING: "#6a1b9a",
    Status.IDENTITY_IN_DOUBT: "#c77700",
    Status.IN_PROGRESS: "#00838f",
    Status.WAITING_HOLD_RELEASE: "#8d6e63",
    Status.AWAITING_APPROVAL: "#ef6c00",
    Status.COMPLETED: "#2e7d32",
    Status.DENIED: "#b00020",
    Status.WITHDRAWN: "#666",
}


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("week", "Due in 7 days"),
            ("later", "Due later"),
            ("none", "No due date"),
        ]

    def queryset(self, request, queryset):
        today = deadlines.business_today()
        open_ = Q(status__in=OPEN_STATUSES)
        week = today + timedelta(days=selectors.DUE_SOON_DAYS)
        if self.value() == "overdue":
            return queryset.filter(open_, due_on__lt=today)
        if self.value() == "week":
            return queryset.filter(open_, due_on__gte=today, due_on__lte=week)
        if self.value() == "later":
            return queryset.filter(open_, due_on__gt=week)
        if self.value() == "none":
            return queryset.filter(due_on__isnull=True)
        return queryset


class FlagFilter(admin.SimpleListFilter):
    title = "flags"
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [
            ("stuck", "Stuck fulfilment"),
            ("duplicate", "Possible duplicate"),
            ("unassigned", "Unassigned"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "stuck":
            return queryset.exclude(stuck_reason="")
        if self.value() == "duplicate":
            return queryset.filter(possible_duplicate_of__isnull=False)
        if self.value() == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The case's evidence rows, shown on the case page; written by services only."""

    extra = 0
    can_delete = False
    show_change_link = False
    template = "admin/requests_app/privacyrequest/scroll_inline.html"  # keyboard-scrollable when wide


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    verbose_name_plural = "Timeline"
    fields = ("at", "kind", "from_status", "to_status", "actor_label", "summary", "note_text")
    readonly_fields = fields
    ordering = ("at", "id")

    def get_fields(self, request, obj=None):
        # Notes are sealed under the subject's key: decrypted only for holders of 'reveal sensitive'.
        if may_reveal(request.user):
            return self.fields
        return tuple("note_sealed" if f == "note_text" else f for f in self.fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Note")
    def note_sealed(self, obj):
        return "Sealed (needs the 'reveal sensitive' permission)." if obj.note else ""

    @admin.display(description="Note")
    def note_text(self, obj):
        if not obj.note:
            return ""
        try:
            return crypto.open_field(crypto.key_for_subject(obj.subject_id), obj, "note")
        except (crypto.KeyDestroyed, crypto.UndecryptableValue):
            return "[erased]"


class FulfilmentAttemptInline(ReadOnlyInline):
    model = FulfilmentAttempt
    fields = ("action", "number", "state", "queued_at", "started_at", "heartbeat_at", "finished_at", "error")
    readonly_fields = fields


class AccessPackageInline(ReadOnlyInline):
    model = AccessPackage
    fields = (
        "public_id",
        "record_count",
        "categories",
        "created_at",
        "expires_at",
        "download_count",
        "purged_at",
    )
    readonly_fields = fields


class RectificationInline(ReadOnlyInline):
    model = Rectification
    fields = ("model_label", "field_name", "record_id", "created_at", "applied_at", "records_changed")
    readonly_fields = fields


class RecipientNotificationInline(ReadOnlyInline):
    model = RecipientNotification
    fields = ("third_party", "action", "state", "attempts", "sent_at", "notice_id", "last_error")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("third_party")


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    list_display = (
        "short_reference",
        "type",
        "regime",
        "status_badge",
        "due_badge",
        "subject_email",
        "requester",
        "assignee",
        "received_at",
        "flags",
    )
    list_filter = ("type", "regime", "status", DueFilter, FlagFilter, "channel", "requester_kind")
    list_select_related = ("assignee", "subject")
    show_full_result_count = False
    list_per_page = 50
    search_fields = ("reference",)  # replaced by get_search_results (UUIDs and emails)
    search_help_text = "Search by case reference, subject reference or the subject's email address."
    date_hierarchy = "received_at"
    ordering = ("-received_at", "-id")
    inlines = [
        CaseEventInline,
        FulfilmentAttemptInline,
        AccessPackageInline,
        RectificationInline,
        RecipientNotificationInline,
    ]
    actions = [
        "assign_to_me",
        "send_verification_link",
        "fulfil_selected",
        "extend_selected",
        "deny_selected",
    ]
    change_form_template = "admin/requests_app/privacyrequest/change_form.html"
    change_list_template = "admin/requests_app/privacyrequest/change_list.html"
    fieldsets = [
        ("Case", {"fields": ("reference", "type", "regime", "channel", "status", "status_changed_at", "assignee",
                             "possible_duplicate_of", "stuck_reason")}),
        ("Deadlines", {"fields": ("received_at", "acknowledge_due_on", "acknowledged_at", "first_due_on", "due_on",
                                  "extended_at", "extension_reason", "deadline_source", "ccpa_requests_to_know")}),
        ("Requester", {"fields": ("subject_link", "requester_kind", "requester_name", "requester_email",
                                  "requester_phone", "description", "authority_document", "authority_verified_by",
                                  "authority_verified_at")}),
        ("Identity", {"fields": ("verification_level_required", "verification_level_achieved",
                                 "verification_method", "data_points_matched", "signed_declaration",
                                 "identity_verified_at", "doubt_reason")}),
        ("Outcome", {"fields": ("lookback_from", "fee_amount", "fee_justification", "denial_basis", "denial_reason",
                                "outcome_note", "completed_at", "closed_at", "certificate_link", "legal_hold_id")}),
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [f for fs in self.fieldsets for f in fs[1]["fields"]]

    def has_add_permission(self, request):
        return False  # intake has its own page (see get_urls), through the service

    def has_delete_permission(self, request, obj=None):
        return False

    # Django's action permissions: @admin.action(permissions=["verify"]) asks has_verify_permission(),
    # so analysts and auditors are offered (and can run) only what their role allows.
    def has_verify_permission(self, request) -> bool:
        return request.user.has_perm("requests_app.verify_privacyrequest")

    def has_fulfil_permission(self, request) -> bool:
        return request.user.has_perm("requests_app.fulfil_privacyrequest")

    def has_deny_permission(self, request) -> bool:
        return request.user.has_perm("requests_app.deny_privacyrequest")

    def has_intake_permission(self, request) -> bool:
        """Logging a request by hand (the add form itself is off: intake goes through the service)."""
        return request.user.has_perm("requests_app.add_privacyrequest")

    def has_metrics_permission(self, request) -> bool:
        return request.user.has_perm("requests_app.view_request_metrics")

    def has_case_action_permission(self, request, action: CaseAction) -> bool:
        return getattr(self, f"has_{action.permission}_permission")(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # cases are never deleted from the admin
        return actions

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            value = uuid.UUID(term)
        except ValueError:
            if "@" in term:
                by_requester = Q(requester_email__iexact=term)
                return queryset.filter(Q(subject__in=subject_search(term)) | by_requester), False
            return queryset.none(), False
        return queryset.filter(Q(reference=value) | Q(subject__public_id=value)), False

    # --- columns ---------------------------------------------------------------------------------------

    @admin.display(description="Reference", ordering="reference")
    def short_reference(self, obj):
        return str(obj.reference)[:8]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span style="color:{};font-weight:600">{}</span>',
            STATUS_COLOURS.get(obj.status, "#333"),
            obj.get_status_display(),
        )

    @admin.display(description="Due", ordering="due_on")
    def due_badge(self, obj):
        colour, label = DUE_COLOURS[selectors.due_state(obj)]
        when = obj.due_on.isoformat() if obj.due_on else "-"
        return format_html(
            '<span style="background:{};color:#fff;padding:1px 6px;border-radius:3px;white-space:nowrap" title="{}">{}</span>',
            colour,
            label,
            when,
        )

    @admin.display(description="Subject")
    def subject_email(self, obj):
        return obj.subject.email or str(obj.subject)

    @admin.display(description="Requester")
    def requester(self, obj):
        return obj.requester_email or obj.requester_name or "the subject"

    @admin.display(description="Flags")
    def flags(self, obj):
        marks = []
        if obj.possible_duplicate_of_id:
            marks.append(("Possible duplicate", "⧉"))
        if obj.stuck_reason:
            marks.append((obj.stuck_reason, "⚠"))
        if obj.extended_at:
            marks.append(("Deadline extended", "⏩"))
        return format_html_join(" ", '<span title="{}">{}</span>', marks)

    @admin.display(description="Subject")
    def subject_link(self, obj):
        url = reverse("admin:inventory_datasubject_change", args=[obj.subject_id])
        label = f"Subject {obj.subject.public_id}" + (" (erased)" if obj.subject.erased_at else "")
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="Deadline rule")
    def deadline_source(self, obj):
        return selectors.case_deadlines(obj).source

    @admin.display(description="Requests to know in 12 months (CCPA §1798.130(b))")
    def ccpa_requests_to_know(self, obj):
        return selectors.requests_to_know_in_window(subject_id=obj.subject_id, at=obj.received_at)

    @admin.display(description="Erasure certificate")
    def certificate_link(self, obj):
        if not obj.erasure_certificate_id:
            return "-"
        try:
            url = reverse("admin:retention_erasurecertificate_change", args=[obj.erasure_certificate_id])
        except Exception:
            return f"#{obj.erasure_certificate_id}"
        return format_html('<a href="{}">Certificate #{}</a>', url, obj.erasure_certificate_id)

    # --- bulk actions ----------------------------------------------------------------------------------

    def _each(self, request, queryset, fn, done: str):
        ok = 0
        for case in queryset.select_related("subject"):
            try:
                fn(case)
                ok += 1
            except ValidationError as exc:
                self.message_user(request, f"{case}: {' '.join(exc.messages)}", messages.ERROR)
        if ok:
            self.message_user(request, f"{ok} case(s): {done}", messages.SUCCESS)

    @admin.action(description="Assign selected cases to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.request_assign(case=c, assignee=request.user, actor=request.user),
            "assigned to you",
        )

    @admin.action(description="Send a (new) verification link", permissions=["verify"])
    def send_verification_link(self, request, queryset):
        self._each(
            request, queryset, lambda c: services.verification_start(case=c, actor=request.user), "link sent"
        )

    @admin.action(description="Fulfil selected verified cases", permissions=["fulfil"])
    def fulfil_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.request_fulfil(case=c, actor=request.user),
            "fulfilment queued",
        )

    def _with_form(self, request, queryset, form_class, title, fn, done):
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                self._each(request, queryset, lambda c: fn(c, form.cleaned_data), done)
                return None
        else:
            form = form_class()
        return TemplateResponse(
            request,
            "admin/requests_app/privacyrequest/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": request.POST.get("action"),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Extend the deadline (reason sent to the requester)", permissions=["change"])
    def extend_selected(self, request, queryset):
        return self._with_form(
            request, queryset, ReasonForm, "Extend the deadline",
            lambda c, d: services.request_extend(case=c, reason=d["reason"], actor=request.user), "deadline extended",
        )  # fmt: skip

    @admin.action(description="Deny with reason", permissions=["deny"])
    def deny_selected(self, request, queryset):
        return self._with_form(
            request, queryset, DenyForm, "Deny with reason",
            lambda c, d: services.request_deny(case=c, basis=d["basis"], reason=d["reason"], actor=request.user),
            "denied",
        )  # fmt: skip

    # --- per-case workflow pages ---------------------------------------------------------------------

    def get_urls(self):
        urls = super().get_urls()
        wrap = self.admin_site.admin_view
        return [
            path("intake/", wrap(self.intake_view), name="requests_app_privacyrequest_intake"),
            path("metrics/", wrap(self.metrics_view), name="requests_app_privacyrequest_metrics"),
            path(
                "<int:pk>/act/<str:name>/",
                wrap(self.case_action_view),
                name="requests_app_privacyrequest_act",
            ),
            *urls,
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # a case changes only through the workflow buttons (services)
        case = self.get_object(request, object_id)
        workspace = {}
        if case is not None:
            workspace = {
                "case_header": case_page.case_header(case),
                "action_groups": case_page.action_groups(
                    case, lambda action: self.has_case_action_permission(request, action)
                ),
            }
        from .gateways import connectors_status

        context = {
            **(extra_context or {}),
            **workspace,
            "case_systems": connectors_status(case_id=case.pk) if case is not None else [],
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, context)

    def case_action_view(self, request, pk: int, name: str):
        action = CASE_ACTIONS_BY_NAME.get(name)
        if action is None or not self.has_case_action_permission(request, action):
            raise PermissionDenied
        label, form_class = action.label, action.form
        case = get_object_or_404(PrivacyRequest.objects.select_related("subject"), pk=pk)
        back = reverse("admin:requests_app_privacyrequest_change", args=[case.pk])
        form = None
        if form_class is not None:
            form = form_class(request.POST or None)
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                result = action.run(case, form.cleaned_data if form else {}, request.user)
            except ValidationError as exc:
                if form is not None and hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    self.message_user(request, " ".join(exc.messages), messages.ERROR)
                    return HttpResponseRedirect(back)
            else:
                self.message_user(request, action.done(result), messages.SUCCESS)
                return HttpResponseRedirect(back)
        return TemplateResponse(
            request,
            "admin/requests_app/privacyrequest/case_action.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{label}: {case}",
                "form": form,
                "case": case,
                "back": back,
                "preview": action.preview(case) if action.preview else None,
                "opts": self.model._meta,
            },
        )

    def intake_view(self, request):
        if not self.has_intake_permission(request):
            raise PermissionDenied
        form = AdminIntakeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            try:
                case = services.request_create(
                    request_type=d["request_type"],
                    regime=d["regime"],
                    channel=d["channel"],
                    subject_email=d["subject_email"],
                    subject_name=d["subject_name"],
                    subject_phone=d["subject_phone"],
                    description=d["description"],
                    requester_kind=d["requester_kind"],
                    requester_name=d["requester_name"],
                    requester_email=d["requester_email"],
                    authority_document=d["authority_document"],
                    signed_declaration=d["signed_declaration"],
                    received_at=d.get("received_at"),
                    received_at_designated_address=d["received_at_designated_address"],
                    actor=request.user,
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                self.message_user(request, "Case opened; acknowledgement queued.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:requests_app_privacyrequest_change", args=[case.pk])
                )
        return TemplateResponse(
            request,
            "admin/requests_app/privacyrequest/case_action.html",
            {
                **self.admin_site.each_context(request),
                "title": "Log a request received by email, phone or mail",
                "form": form,
                "back": reverse("admin:requests_app_privacyrequest_changelist"),
                "opts": self.model._meta,
            },
        )

    def metrics_view(self, request):
        """CSV download of the 11 CCR §7102 metrics for a calendar year."""
        if not self.has_metrics_permission(request):
            raise PermissionDenied
        try:
            year = int(request.GET.get("year") or deadlines.business_today().year)
        except ValueError:
            year = deadlines.business_today().year
        response = HttpResponse(selectors.request_metrics_csv(year=year), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="privacy-request-metrics-{year}.csv"'
        return response


@admin.register(CaseEvent)
class CaseEventAdmin(SubjectEmailSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The request log (11 CCR §7101): read-only evidence."""

    list_display = ("at", "case", "kind", "from_status", "to_status", "actor_label", "summary")
    list_filter = ("kind", "to_status")
    search_fields = ("=case__reference", "actor_label")  # and email (SubjectEmailSearchMixin)
    list_select_related = ("case",)
    show_full_result_count = False
    date_hierarchy = "at"
    exclude = ("note",)
    readonly_fields = ("case", "subject", "at", "kind", "from_status", "to_status", "actor", "actor_label",
                       "summary", "details")  # fmt: skip
