"""Admin screens: the outbox (read-only evidence, retry/cancel through services), templates with a
rendered preview and a render check on save, and the breach register with its clocks and progress."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join

from audit.admin import ReadOnlyAdminMixin
from inventory.models import DataCategory, DataSubject
from inventory.selectors import subject_search

from . import defaults, redaction, rendering, rules, selectors, services
from .models import Breach, BreachStatus, Notice, NoticeStatus, NoticeTemplate


def _iframe(html: str, height: int = 520) -> str:
    # sandbox="": no scripts, no forms, no same-origin access. The rendered HTML arrives marked safe, which
    # format_html would insert as is (cut at the first double quote, `</iframe>` escaping the frame):
    # escape() escapes always, so the whole document stays inside the srcdoc attribute.
    return format_html(
        '<iframe sandbox="" srcdoc="{}" style="width:100%;max-width:760px;height:{}px;border:1px solid #d0d7de;'
        'background:#fff;"></iframe>',
        escape(str(html)),
        height,
    )


def _pre(text: str) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-width:760px;border:1px solid #d0d7de;padding:12px;'
        'background:#f6f8fa;">{}</pre>',
        text,
    )


def _rendered_block(subject: str, text: str, html: str) -> str:
    parts = [format_html("<p><strong>Subject:</strong> {}</p>", subject), _pre(text)]
    if html:
        parts.append(_iframe(html))
    return format_html_join("", "{}", ((p,) for p in parts))


def _duration(delta) -> str:
    hours = int(abs(delta.total_seconds()) // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 48 else f"{hours} h"


# ------------------------------------------------------------------------------------------------------
# Outbox
# ------------------------------------------------------------------------------------------------------
class TransactionalFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [("transactional", "Transactional"), ("marketing", "Marketing")]

    def queryset(self, request, queryset):
        if self.value() == "marketing":
            return queryset.exclude(marketing_purpose="")
        if self.value() == "transactional":
            return queryset.filter(marketing_purpose="")
        return queryset


class ClockFilter(admin.SimpleListFilter):
    """Breaches with a notification clock still running (the dashboard's breach card counts these)."""

    title = "clock"
    parameter_name = "clock"

    def lookups(self, request, model_admin):
        return [("running", "A clock running")]

    def queryset(self, request, queryset):
        if self.value() == "running":
            return queryset.filter(pk__in={c.breach_id for c in selectors.breach_open_clocks()})
        return queryset


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("short_id", "kind", "status", "attempts", "created_at", "sent_at", "subject", "breach_id")
    list_filter = (
        "status",
        "kind",
        TransactionalFilter,
        ("sent_at", admin.DateFieldListFilter),
        "created_at",
    )
    list_select_related = ("subject",)
    search_fields = ("=idempotency_key", "=to_email")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_notices", "cancel_notices"]
    fieldsets = [
        ("Notice", {"fields": ["public_id", "kind", "language", "template_link", "subject_link", "breach",
                               "marketing_purpose", "idempotency_key", "requested_by"]}),
        ("Message", {"fields": ["recipient", "rendered_preview", "message_headers"]}),
        ("Delivery (evidence)", {"fields": ["status", "attempts", "last_error", "created_at", "dispatched_at",
                                            "next_attempt_at", "claimed_at", "sent_at", "failed_at", "cancelled_at"]}),
    ]  # fmt: skip
    readonly_fields = [
        "public_id", "kind", "language", "template_link", "subject_link", "breach", "marketing_purpose",
        "idempotency_key", "requested_by", "recipient", "rendered_preview", "message_headers", "status",
        "attempts",
        "last_error", "created_at", "dispatched_at", "next_attempt_at", "claimed_at", "sent_at", "failed_at",
        "cancelled_at",
    ]  # fmt: skip

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:  # the address it went to, or the subject's (any case)
            return queryset.filter(Q(to_email__iexact=term) | Q(subject__in=subject_search(term))), False
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            return super().get_search_results(request, queryset, term)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notices.retry_notice")

    @admin.display(description="notice", ordering="id")
    def short_id(self, obj: Notice) -> str:
        return str(obj.public_id)[:8]

    @admin.display(description="template")
    def template_link(self, obj: Notice) -> str:
        if obj.template_id is None:
            return "—"
        url = reverse("admin:notices_noticetemplate_change", args=[obj.template_id])
        return format_html('<a href="{}">version {}</a>', url, obj.template_version)

    @admin.display(description="subject")
    def subject_link(self, obj: Notice) -> str:
        if obj.subject_id is None:
            return "—"
        return format_html("{} (#{})", obj.subject, obj.subject_id)

    def get_object(self, request, object_id, from_field=None):
        # The displays below redact for the viewer (notices.redaction). The admin instance is shared
        # between requests, so the viewer travels on this request's object, not on self.
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.viewer = request.user
        return obj

    @staticmethod
    def _redact(obj: Notice, text: str | None) -> str:
        return redaction.redact_for(getattr(obj, "viewer", None), text)

    @admin.display(description="to email")
    def recipient(self, obj: Notice) -> str:
        return self._redact(obj, obj.to_email) or "—"

    @admin.display(description="rendered notice")
    def rendered_preview(self, obj: Notice) -> str:
        if obj.body_text is None:
            return "Erased."
        # Signed links are withheld: a staff member reading the outbox must not be able to act as the
        # recipient (open their access package, confirm their identity).
        return _rendered_block(
            self._redact(obj, obj.email_subject),
            self._redact(obj, obj.body_text),
            self._redact(obj, obj.body_html),
        )

    @admin.display(description="headers")
    def message_headers(self, obj: Notice) -> str:
        headers = redaction.redact_headers_for(getattr(obj, "viewer", None), obj.headers)
        return format_html_join("", "<div><code>{}</code>: {}</div>", sorted(headers.items())) or "—"

    @admin.action(description="Retry delivery of the selected notices", permissions=["retry"])
    def retry_notices(self, request, queryset):
        self._each(
            request, queryset, lambda pk: services.notice_retry(notice_id=pk, actor=request.user), "queued"
        )

    @admin.action(description="Cancel the selected notices (not sent)", permissions=["retry"])
    def cancel_notices(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda pk: services.notice_cancel(
                notice_id=pk, reason="cancelled in the admin", actor=request.user
            ),
            "cancelled",
        )

    def _each(self, request, queryset, call, verb: str) -> None:
        done = 0
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                call(pk)
                done += 1
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.WARNING)
        if done:
            self.message_user(request, f"{done} notice(s) {verb}.", messages.SUCCESS)


# ------------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------------
class NoticeTemplateForm(forms.ModelForm):
    class Meta:
        model = NoticeTemplate
        fields = ["kind", "language", "active", "description", "subject_template", "body_text_template",
                  "body_html_template", "sample_context"]  # fmt: skip
        widgets = {
            "subject_template": forms.TextInput(attrs={"size": 100}),
            "body_text_template": forms.Textarea(
                attrs={"rows": 18, "cols": 100, "style": "font-family:monospace"}
            ),
            "body_html_template": forms.Textarea(
                attrs={"rows": 18, "cols": 100, "style": "font-family:monospace"}
            ),
        }

    def _get_validation_exclusions(self):
        # One active version per kind and language is kept by the service (it deactivates the
        # previous one), not refused by the form.
        return {*super()._get_validation_exclusions(), "kind", "language"}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.notice_template_check(template=self.instance)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, exc)


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    form = NoticeTemplateForm
    list_display = ("kind", "language", "version", "active", "updated_at", "updated_by", "preview_link")
    list_filter = ("active", "kind", "language")
    search_fields = ("subject_template", "description")
    show_full_result_count = False
    readonly_fields = ("version", "preview", "variables", "created_at", "updated_at", "updated_by")
    fieldsets = [
        (None, {"fields": ["kind", "language", "version", "active", "description"]}),
        ("Wording", {"fields": ["subject_template", "body_text_template", "body_html_template"],
                     "description": "Django template syntax in a sandbox: {{ variable }}, {% if %}, {% for %}, "
                                    "filters such as |as_date. No {% load %}, {% include %} or |safe."}),
        ("Preview", {"fields": ["preview", "sample_context", "variables"]}),
        ("History", {"fields": ["created_at", "updated_at", "updated_by"]}),
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["kind", "language"] if obj is not None else fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # notices point at the version they were rendered with: deactivate instead

    def save_model(self, request, obj, form, change):
        services.notice_template_save(template=obj, actor=request.user)

    @admin.display(description="preview")
    def preview_link(self, obj: NoticeTemplate) -> str:
        return format_html(
            '<a href="{}" target="_blank">open</a>', reverse("admin:notices_template_preview", args=[obj.pk])
        )

    @admin.display(description="rendered from the sample context")
    def preview(self, obj: NoticeTemplate) -> str:
        if obj is None or obj.pk is None:
            return "Save the template to see it rendered."
        try:
            rendered = selectors.template_preview(obj)
        except Exception as exc:  # shown to the author, who can fix the template
            return format_html("<strong>Does not render:</strong> {}", exc)
        link = format_html(
            '<p><a href="{}" target="_blank">Open the HTML version full size</a></p>',
            reverse("admin:notices_template_preview", args=[obj.pk]),
        )
        return format_html("{}{}", _rendered_block(rendered.subject, rendered.text, rendered.html), link)

    @admin.display(description="variables available (with sample values)")
    def variables(self, obj: NoticeTemplate) -> str:
        kind = obj.kind if obj and obj.kind else None
        sample = (
            defaults.sample_context(kind, obj.sample_context if obj else None)
            if kind
            else defaults.COMMON_CONTEXT
        )
        return format_html_join(
            "", "<div><code>{}</code>: {}</div>", ((k, repr(v)) for k, v in sorted(sample.items()))
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="notices_template_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        template = get_object_or_404(NoticeTemplate, pk=pk)
        rendered = selectors.template_preview(template)
        body = rendered.html or format_html("<pre>{}</pre>", rendered.text)
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
        )
        return response


# ------------------------------------------------------------------------------------------------------
# Breaches
# ------------------------------------------------------------------------------------------------------
def _split_codes(value: str) -> list[str]:
    return [v.strip().upper() for v in value.replace(";", ",").split(",") if v.strip()]


class BreachForm(forms.ModelForm):
    """The breach, plus the stored query selecting affected subjects, edited as plain fields."""

    select_categories = forms.ModelMultipleChoiceField(
        queryset=DataCategory.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Holding data in",
        help_text="Subjects holding a record in any of these categories.",
    )
    select_countries = forms.CharField(required=False, label="Countries", help_text="ISO codes, e.g. US, DE")
    select_regions = forms.CharField(required=False, label="Regions", help_text="ISO 3166-2 codes, e.g. CA")
    select_created_from = forms.DateField(
        required=False, widget=AdminDateWidget, label="Subject created from"
    )
    select_created_to = forms.DateField(required=False, widget=AdminDateWidget, label="Subject created until")
    select_subjects = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        label="Listed subjects",
        help_text="Public ids of further affected subjects, one per line (added to the filters' matches).",
    )

    class Meta:
        model = Breach
        fields = [
            "title", "what_happened", "occurred_from", "occurred_until", "discovered_at", "aware_at", "categories",
            "information_involved", "likely_consequences", "what_we_are_doing", "what_you_can_do",
            "for_more_information", "authority_notified_at", "authority_reference", "delay_reason",
            "authority_exempt_reason", "ca_notice_exempt_reason", "law_enforcement_delay", "law_enforcement_note",
            "ag_sample_submitted_at", "ca_delay_kind", "ca_delay_reason", "ca_delay_from", "ca_delay_until",
            "art34_decision", "art34_reason",
        ]  # fmt: skip
        widgets = {"categories": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        selection = self.instance.selection or {}
        self.fields["select_categories"].initial = selection.get("categories", [])
        self.fields["select_countries"].initial = ", ".join(selection.get("countries", []))
        self.fields["select_regions"].initial = ", ".join(selection.get("regions", []))
        self.fields["select_created_from"].initial = selection.get("created_from")
        self.fields["select_created_to"].initial = selection.get("created_to")
        ids = selection.get("subject_ids") or []
        if ids:
            public = DataSubject.objects.filter(pk__in=ids).values_list("public_id", flat=True)
            self.fields["select_subjects"].initial = "\n".join(str(p) for p in public)
        if self.instance.pk and self.instance.status != BreachStatus.DRAFT:
            for name in self.fields:
                if name.startswith("select_"):
                    self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.status != BreachStatus.DRAFT:
            return cleaned
        public_ids = []
        for line in (cleaned.get("select_subjects") or "").split():
            try:
                public_ids.append(uuid.UUID(line.strip(",;")))
            except ValueError:
                self.add_error("select_subjects", "Each line must be a subject's public id.")
                return cleaned
        ids = list(DataSubject.objects.filter(public_id__in=public_ids).values_list("pk", flat=True))
        if len(ids) != len(set(public_ids)):
            self.add_error(
                "select_subjects", f"{len(set(public_ids)) - len(ids)} listed id(s) match no subject."
            )
        selection = {
            "categories": [c.code for c in cleaned.get("select_categories") or []],
            "countries": _split_codes(cleaned.get("select_countries") or ""),
            "regions": _split_codes(cleaned.get("select_regions") or ""),
            "created_from": cleaned.get("select_created_from"),
            "created_to": cleaned.get("select_created_to"),
            "subject_ids": ids,
        }
        try:
            self.instance.selection = services.breach_selection_clean(selection)
        except ValidationError as exc:
            self.add_error(None, exc.messages)
        return cleaned


@admin.register(Breach)
class BreachAdmin(admin.ModelAdmin):
    form = BreachForm
    list_display = (
        "title",
        "status",
        "discovered_at",
        "eu_clock",
        "ca_clock",
        "ca_residents_count",
        "progress_short",
    )
    list_filter = ("status", ClockFilter)
    search_fields = ("title",)
    date_hierarchy = "discovered_at"
    show_full_result_count = False
    list_select_related = ("created_by",)
    actions = ["notify_subjects", "close_breaches"]
    fieldsets = [
        ("Incident", {"fields": ["title", "status", "what_happened", "occurred_from", "occurred_until",
                                 "discovered_at", "aware_at", "categories", "information_involved",
                                 "likely_consequences"]}),
        ("Clocks", {"fields": ["eu_clock", "ca_clock", "ag_clock"]}),
        ("Notice wording (California headings)", {"fields": ["what_we_are_doing", "what_you_can_do",
                                                             "for_more_information", "sample_notice"]}),
        ("Affected subjects", {"fields": ["select_categories", "select_countries", "select_regions",
                                          "select_created_from", "select_created_to", "select_subjects",
                                          "affected"]}),
        ("Supervisory authority (GDPR Art. 33)", {"fields": ["authority_notified_at", "authority_reference",
                                                             "delay_reason", "authority_exempt_reason"]}),
        ("California", {"fields": ["ca_notice_exempt_reason", "law_enforcement_delay", "law_enforcement_note",
                                   "ca_delay_kind", "ca_delay_reason", "ca_delay_from", "ca_delay_until",
                                   "ag_sample_submitted_at"]}),
        ("Data subjects in the EU (GDPR Art. 34)", {"fields": ["art34_summary", "art34_decision", "art34_reason"]}),
        ("Notification progress", {"fields": ["progress", "notify_started_at", "notify_finished_at"]}),
        ("Record", {"fields": ["public_id", "created_by", "created_at", "updated_at"]}),
    ]  # fmt: skip
    _always_readonly = [
        "status", "eu_clock", "ca_clock", "ag_clock", "sample_notice", "affected", "progress", "art34_summary",
        "notify_started_at", "notify_finished_at", "public_id", "created_by", "created_at", "updated_at",
    ]  # fmt: skip
    _frozen = [
        "what_happened", "occurred_from", "occurred_until", "discovered_at", "categories", "information_involved",
        "likely_consequences", "what_we_are_doing", "what_you_can_do", "for_more_information",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != BreachStatus.DRAFT:
            return self._always_readonly + self._frozen
        return self._always_readonly

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the register documents every breach (GDPR Art. 33(5))

    def has_notify_permission(self, request) -> bool:
        return request.user.has_perm("notices.notify_breach")

    def save_model(self, request, obj, form, change):
        categories = form.cleaned_data.get("categories") if "categories" in form.cleaned_data else None
        services.breach_save(breach=obj, categories=categories, actor=request.user)

    def save_related(self, request, form, formsets, change):
        pass  # categories are set by the service

    @admin.action(description="Notify the affected subjects of the selected breaches", permissions=["notify"])
    def notify_subjects(self, request, queryset):
        for breach in queryset:
            try:
                services.breach_notify_start(breach_id=breach.pk, actor=request.user)
                self.message_user(
                    request, f"Notifying the subjects affected by '{breach}'.", messages.SUCCESS
                )
            except ValidationError as exc:
                self.message_user(request, f"{breach}: {'; '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Close the selected breaches", permissions=["change"])
    def close_breaches(self, request, queryset):
        for breach in queryset:
            try:
                services.breach_close(breach_id=breach.pk, actor=request.user)
                self.message_user(request, f"'{breach}' closed.", messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)

    # --- computed displays ----------------------------------------------------------------------
    def _clock(self, obj: Breach, code: str) -> str:
        if obj is None or obj.pk is None:
            return "Shown once the breach is recorded."
        state = next((c for c in selectors.breach_clocks(obj) if c.code == code), None)
        if state is None:
            return "Not required."
        due = timezone.localtime(state.due).strftime("%Y-%m-%d %H:%M %Z")
        if state.exempt_reason and state.done_at is None:
            return format_html("Not required: {} <small>{}</small>", state.exempt_reason, state.source)
        if state.done_at is not None:
            late = state.done_at > state.due
            return format_html(
                "Done {} ({}) — due {}. <small>{}</small>",
                timezone.localtime(state.done_at).strftime("%Y-%m-%d %H:%M"),
                "late" if late else "on time",
                due,
                state.source,
            )
        if state.overdue:
            return format_html(
                '<strong style="color:#b42318;">OVERDUE by {}</strong> — due {}: {}. <small>{}</small>',
                _duration(state.remaining), due, state.action, state.source,
            )  # fmt: skip
        return format_html(
            '<span style="color:{};">{} left</span> — due {}: {}. <small>{}</small>',
            "#b54708" if state.needs_reminder else "#1f2328",
            _duration(state.remaining), due, state.action, state.source,
        )  # fmt: skip

    @admin.display(description="72 h EU authority clock")
    def eu_clock(self, obj: Breach) -> str:
        return self._clock(obj, rules.EU_AUTHORITY.code)

    @admin.display(description="30-day California notice clock")
    def ca_clock(self, obj: Breach) -> str:
        shown = self._clock(obj, rules.CA_CONSUMERS.code)
        if obj is None or obj.pk is None:
            return shown
        paused = rules.ca_delay_paused(obj)
        if paused:
            until = (
                timezone.localtime(obj.ca_delay_until).strftime("%Y-%m-%d") if obj.ca_delay_until else "now"
            )
            shown = format_html(
                "{}<br>Paused {} by a documented delay ({}: {}; {} to {}).",
                shown, _duration(paused), obj.get_ca_delay_kind_display(), obj.ca_delay_reason,
                timezone.localtime(obj.ca_delay_from).strftime("%Y-%m-%d"), until,
            )  # fmt: skip
        if obj.notify_started_at and selectors.breach_ca_notices_sent_at(obj) is None:
            shown = format_html("{}<br>Not met while any resident's notice is unsent.", shown)
        return shown

    @admin.display(description="decision")
    def art34_summary(self, obj: Breach) -> str:
        if obj is None or not obj.art34_decision:
            return "Not decided yet: record whether the data subjects are told (GDPR Art. 34)."
        return format_html("<strong>{}</strong> {}", obj.get_art34_decision_display(), obj.art34_reason)

    @admin.display(description="California Attorney General sample")
    def ag_clock(self, obj: Breach) -> str:
        if obj is None or obj.pk is None:
            return "—"
        count = obj.ca_residents_count
        if count is None:
            live = selectors.breach_affected_counts(obj.selection).ca_residents if obj.selection else 0
            flag = "will be required" if live > rules.CA_AG_SAMPLE_THRESHOLD else "not required"
            return f"{live} California residents selected: a sample to the Attorney General {flag} " \
                   f"(more than {rules.CA_AG_SAMPLE_THRESHOLD}; within 15 days of notifying them)."  # fmt: skip
        if not obj.ag_sample_required:
            return f"Not required: {count} California residents (threshold: more than {rules.CA_AG_SAMPLE_THRESHOLD})."
        return format_html(
            "<strong>Required</strong> ({} California residents): {}", count, self._clock(obj, "ca_ag_sample")
        )

    @admin.display(description="selected now")
    def affected(self, obj: Breach) -> str:
        if obj is None or obj.pk is None or not obj.selection:
            return "Save a selection to see how many subjects it matches."
        counts = selectors.breach_affected_counts(obj.selection)
        return f"{counts.total} subjects, of whom {counts.ca_residents} California residents; " \
               f"{counts.without_email} without an email address (need another channel)."  # fmt: skip

    @admin.display(description="sample notice (no personal information; the Attorney General copy)")
    def sample_notice(self, obj: Breach) -> str:
        if obj is None or obj.pk is None:
            return "Save the breach to see the notice."
        try:
            rendered = selectors.breach_sample_notice(obj)
        except (ValidationError, rendering.NotPlainData) as exc:
            return "; ".join(getattr(exc, "messages", [str(exc)]))
        return _rendered_block(rendered.subject, rendered.text, rendered.html)

    @admin.display(description="progress")
    def progress(self, obj: Breach) -> str:
        if obj is None or obj.notify_started_at is None:
            return "Not started. Use the action “Notify the affected subjects” on the breach list."
        counts = selectors.breach_delivery_counts(breach_id=obj.pk)
        return format_html(
            '<progress max="{}" value="{}" style="width:320px;"></progress> {} of {} subjects processed; '
            "{} notices queued, {} skipped (no valid email address).<br>"
            "Delivery: {} sent, {} pending, {} sending, {} failed, {} cancelled.",
            max(obj.notify_total, 1), obj.notify_processed, obj.notify_processed, obj.notify_total,
            obj.notify_enqueued, obj.notify_skipped, counts[NoticeStatus.SENT], counts[NoticeStatus.PENDING],
            counts[NoticeStatus.SENDING], counts[NoticeStatus.FAILED], counts[NoticeStatus.CANCELLED],
        )  # fmt: skip

    @admin.display(description="progress")
    def progress_short(self, obj: Breach) -> str:
        if obj.notify_started_at is None:
            return "—"
        return f"{obj.notify_processed}/{obj.notify_total}"
