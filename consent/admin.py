"""Consent in the admin: purposes, policy versions, the (read-only) ledger, per-subject history, CSV import.

Every write goes through consent.services; the ledger, states and imports are evidence and read-only.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.admin import NoEditAdminMixin, ReadOnlyAdminMixin
from audit.services import audit_record
from inventory import crypto
from inventory.admin_search import SubjectEmailSearchMixin
from inventory.models import DataSubject

from . import csv_import, services
from .models import (
    Action,
    Channel,
    ConsentEvent,
    ConsentImport,
    ConsentState,
    PolicyVersion,
    Purpose,
    ReconsentRequest,
    SuppressedAddress,
)
from .receipts import consent_receipt, receipt_filename
from .selectors import consent_history, consent_overview, event_evidence


def _subject_link(subject_public_id) -> str:
    url = reverse("admin:consent_subject_history", args=[subject_public_id])
    return format_html('<a href="{}">{}</a>', url, str(subject_public_id)[:8])


# --- purposes -------------------------------------------------------------------------------------


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "legal_basis",
        "required",
        "is_marketing",
        "consent_lifetime_days",
        "active",
    )
    list_filter = ("legal_basis", "required", "is_marketing", "active")
    search_fields = ("code", "name")
    filter_horizontal = ("data_categories",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # Ledger rows store the code, and `required` decides whether consent applies: both are fixed.
        return ("code", "required") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name != "data_categories"}
        try:
            if change:
                services.purpose_update(purpose=obj, changes=fields, actor=request.user)
            else:
                base = {
                    k: fields.pop(k, getattr(obj, k))
                    for k in ("code", "name", "service", "description", "legal_basis")
                }
                created = services.purpose_create(**base, **fields, actor=request.user)
                obj.pk = created.pk
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


# --- policy versions ------------------------------------------------------------------------------


class PublishForm(forms.Form):
    notify_audience = forms.ChoiceField(
        choices=PolicyVersion.Audience.choices,
        required=False,
        label="Send the 'policy changed' notice to",
        help_text="Transactional notice through the outbox, in batches (policy §11).",
    )


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "effective_on",
        "published_at",
        "short_hash",
        "notify_audience",
        "notified_count",
    )
    list_filter = ("notify_audience",)
    search_fields = ("version", "sha256")
    readonly_fields = (
        "sha256", "published_at", "published_by_label", "notify_audience", "notified_count",
        "notify_completed_at",
    )  # fmt: skip
    fields = ("version", "effective_on", "url", "summary", "text", *readonly_fields)
    show_full_result_count = False
    change_form_template = "admin/consent/policyversion/change_form.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="SHA-256")
    def short_hash(self, obj: PolicyVersion) -> str:
        return obj.sha256[:12]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False  # evidence: consents point at this exact text
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("version", "effective_on", "url", "summary", "text")}
        if change:
            services.policy_version_update(policy_version=obj, changes=data, actor=request.user)
        else:
            created = services.policy_version_create(**data, actor=request.user)
            obj.pk = created.pk

    def get_urls(self):
        return [
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="consent_policyversion_publish",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("consent.publish_policyversion"):
            raise PermissionDenied
        policy = get_object_or_404(PolicyVersion, pk=pk)
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.policy_version_publish(
                    policy_version_id=policy.pk,
                    notify_audience=form.cleaned_data["notify_audience"],
                    actor=request.user,
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Policy {policy.version} is published.")
            return HttpResponseRedirect(reverse("admin:consent_policyversion_change", args=[policy.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Publish policy {policy.version}",
            "policy": policy,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/consent/policy_publish.html", context)


# --- the ledger -----------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, header: email,purpose,action,at[,channel,…] (see below).")
    create_missing_subjects = forms.BooleanField(
        required=False, initial=True, help_text="Create a data subject for an address we don't hold yet."
    )
    dry_run = forms.BooleanField(required=False, help_text="Only check the file; write nothing.")


@admin.register(ConsentEvent)
class ConsentEventAdmin(SubjectEmailSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "at", "subject_link", "purpose", "action", "channel", "suppressed", "receipt_link")
    list_filter = ("action", "channel", "purpose", "suppressed")
    list_select_related = ("subject", "purpose")
    search_fields = ("=subject__public_id", "=public_id", "=client_event_id")
    date_hierarchy = "at"
    show_full_result_count = False
    change_list_template = "admin/consent/consentevent/change_list.html"
    fields = (
        "public_id", "subject_link", "purpose", "action", "at", "recorded_at", "channel", "source",
        "client_event_id", "collection_point", "policy_version", "language", "suppressed", "import_batch",
        "actor_label", "receipt_link",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Subject")
    def subject_link(self, obj: ConsentEvent) -> str:
        return _subject_link(obj.subject.public_id)

    @admin.display(description="Receipt")
    def receipt_link(self, obj: ConsentEvent) -> str:
        return format_html(
            '<a href="{}">JSON</a>', reverse("admin:consent_consentevent_receipt", args=[obj.pk])
        )

    change_form_template = "admin/consent/consentevent/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Evidence is sealed; only holders of 'reveal sensitive' see it decrypted (and reading it is audited).
        if request.method != "GET":
            raise PermissionDenied  # ledger rows are read-only; don't decrypt (or audit a reveal) for a refusal
        event = ConsentEvent.objects.filter(pk=object_id).first()
        text = "—"
        if event is not None and event.evidence:
            if not request.user.has_perm("inventory.reveal_sensitive"):
                text = "Sealed (needs the 'reveal sensitive' permission)."
            else:
                try:
                    text = json.dumps(event_evidence(event), sort_keys=True, indent=1)
                except crypto.KeyDestroyed:
                    text = "Crypto-shredded: the subject was erased and the key destroyed."
                else:
                    audit_record(
                        action="consent.evidence_revealed",
                        actor=request.user,
                        target=event,
                        subject_id=event.subject_id,
                    )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "evidence_text": text}
        )

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="consent_consentevent_import"),
            path(
                "<int:pk>/receipt/",
                self.admin_site.admin_view(self.receipt_view),
                name="consent_consentevent_receipt",
            ),
            *super().get_urls(),
        ]

    def receipt_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(
            ConsentEvent.objects.select_related("subject", "purpose", "policy_version"), pk=pk
        )
        response = HttpResponse(json.dumps(consent_receipt(event), indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{receipt_filename(event)}"'
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("consent.import_consent"):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a consent list (CSV)",
            "opts": self.model._meta,
            "form": form,
            "required_columns": csv_import.REQUIRED_COLUMNS,
            "optional_columns": csv_import.OPTIONAL_COLUMNS,
            "channels": Channel.values,
            "purposes": Purpose.objects.filter(required=False, active=True).order_by("code"),
            "max_rows": csv_import.MAX_ROWS,
        }
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > csv_import.MAX_BYTES:
                context["row_errors"] = [csv_import.RowError(0, "The file is larger than 20 MB; split it.")]
            else:
                try:
                    context["report"] = services.consent_import_csv(
                        content=upload.read(),
                        file_name=upload.name,
                        actor=request.user,
                        create_missing_subjects=form.cleaned_data["create_missing_subjects"],
                        dry_run=form.cleaned_data["dry_run"],
                    )
                except services.ImportRejected as exc:
                    context["row_errors"] = exc.row_errors
        return TemplateResponse(request, "admin/consent/import.html", context)


@admin.register(ConsentImport)
class ConsentImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "file_name", "rows_total", "events_created", "duplicates", "skipped_suppressed",
                    "skipped_opted_out", "subjects_created", "actor_label")  # fmt: skip
    search_fields = ("=public_id", "=file_sha256", "file_name")
    show_full_result_count = False
    readonly_fields = [f.name for f in ConsentImport._meta.fields if f.name != "actor"]
    exclude = ("actor",)


# --- current state and per-subject history --------------------------------------------------------


class ExpiringFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("30", "Expiring within 30 days"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "30":
            return queryset.filter(
                action=Action.GRANT, expires_at__gt=now, expires_at__lte=now + timedelta(days=30)
            )
        if self.value() == "expired":
            return queryset.filter(action=Action.GRANT, expires_at__lte=now)
        return queryset


class RecordEventForm(forms.Form):
    purpose = forms.ModelChoiceField(
        queryset=Purpose.objects.filter(required=False, active=True), to_field_name="code"
    )
    action = forms.ChoiceField(choices=Action.choices)
    channel = forms.ChoiceField(choices=[(Channel.PHONE, "Telephone"), (Channel.EMAIL, "Email to the company"),
                                         (Channel.WEB_FORM, "Web form")])  # fmt: skip
    at = forms.DateTimeField(required=False, help_text="When the subject said so (empty: now).")
    note = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Evidence, e.g. the call or message reference. Stored encrypted.")  # fmt: skip


@admin.register(ConsentState)
class ConsentStateAdmin(SubjectEmailSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("subject_link", "purpose", "action", "at", "expires_at", "updated_at")
    list_filter = ("purpose", "action", ExpiringFilter)
    list_select_related = ("subject", "purpose")
    search_fields = ("=subject__public_id",)
    show_full_result_count = False
    fields = ("subject_link", "purpose", "action", "at", "expires_at", "event", "updated_at")
    readonly_fields = fields

    @admin.display(description="Subject")
    def subject_link(self, obj: ConsentState) -> str:
        return _subject_link(obj.subject.public_id)

    def get_urls(self):
        return [
            path(
                "subject/<uuid:public_id>/",
                self.admin_site.admin_view(self.subject_history_view),
                name="consent_subject_history",
            ),
            *super().get_urls(),
        ]

    def subject_history_view(self, request: HttpRequest, public_id) -> HttpResponse:
        if not request.user.has_perm("consent.view_consentstate"):
            raise PermissionDenied
        subject = get_object_or_404(DataSubject, public_id=public_id)
        can_record = request.user.has_perm("consent.record_consent") and subject.erased_at is None
        form = RecordEventForm(request.POST or None) if can_record else None
        if request.method == "POST":
            if not can_record:
                raise PermissionDenied
            if form.is_valid():
                data = form.cleaned_data
                evidence = {"note": data["note"]} if data["note"] else None
                try:
                    if data["action"] == Action.WITHDRAW and not data["at"]:
                        services.consent_withdraw(
                            subject_id=subject.pk, purpose=data["purpose"].code, channel=data["channel"],
                            actor=request.user, evidence=evidence,
                        )  # fmt: skip
                    else:
                        services.consent_record(
                            subject_id=subject.pk, purpose=data["purpose"].code, action=data["action"],
                            channel=data["channel"], at=data["at"], evidence=evidence, actor=request.user,
                            source=f"admin:{request.user.get_username()}",
                        )  # fmt: skip
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                else:
                    messages.success(request, "The consent event was recorded.")
                    return HttpResponseRedirect(request.path)
        events = list(consent_history(subject_id=subject.pk)[:200])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Consent of subject {str(subject.public_id)[:8]}",
            "opts": self.model._meta,
            "subject": subject,
            "overview": consent_overview(subject_id=subject.pk),
            "events": events,
            "reconsent": ReconsentRequest.objects.filter(subject=subject).select_related("purpose")[:50],
            "form": form,
        }
        return TemplateResponse(request, "admin/consent/subject_history.html", context)


# --- suppression list and re-consent --------------------------------------------------------------


class SuppressForm(forms.Form):
    email = forms.EmailField(help_text="Only a keyed hash is stored; the address itself is not kept.")
    purposes = forms.ModelMultipleChoiceField(
        queryset=Purpose.objects.filter(required=False),
        to_field_name="code",
        required=False,
        help_text="Empty: every marketing purpose.",
    )


class LiftForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="E.g. 'subject asked to receive newsletters again (ticket 123)'."
    )


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(NoEditAdminMixin, admin.ModelAdmin):
    list_display = ("short_hash", "purpose", "reason", "created_at", "created_by_label", "lift_link")
    list_filter = ("purpose", "reason")
    list_select_related = ("purpose",)
    search_fields = ("=email_hmac",)
    show_full_result_count = False
    readonly_fields = ("email_hmac", "purpose", "reason", "created_at", "created_by_label")

    @admin.display(description="Hash")
    def short_hash(self, obj: SuppressedAddress) -> str:
        return f"{obj.email_hmac[:16]}…"

    @admin.display(description="")
    def lift_link(self, obj: SuppressedAddress) -> str:
        return format_html(
            '<a href="{}">Lift…</a>', reverse("admin:consent_suppressedaddress_lift", args=[obj.pk])
        )

    def get_search_results(self, request, queryset, search_term):
        # Officers search by address; the list holds hashes, so hash the term first.
        if "@" in search_term:
            from .suppression import email_hmac

            return queryset.filter(email_hmac=email_hmac(search_term)), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):
        return [
            path(
                "<int:pk>/lift/",
                self.admin_site.admin_view(self.lift_view),
                name="consent_suppressedaddress_lift",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SuppressForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            codes = [p.code for p in form.cleaned_data["purposes"]] or None
            try:
                added = services.suppression_add(
                    email=form.cleaned_data["email"], purposes=codes, actor=request.user
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"{added} suppression row(s) added.")
                return HttpResponseRedirect(reverse("admin:consent_suppressedaddress_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Suppress an email address",
            "opts": self.model._meta,
            "form": form,
            "submit": "Suppress",
        }
        return TemplateResponse(request, "admin/consent/simple_form.html", context)

    def lift_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("consent.lift_suppression"):
            raise PermissionDenied
        row = get_object_or_404(SuppressedAddress.objects.select_related("purpose"), pk=pk)
        form = LiftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.suppression_lift(
                    suppressed_id=row.pk, reason=form.cleaned_data["reason"], actor=request.user
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, "The suppression was lifted.")
            return HttpResponseRedirect(reverse("admin:consent_suppressedaddress_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lift suppression {row.email_hmac[:12]}… for {row.purpose.code}",
            "opts": self.model._meta,
            "form": form,
            "submit": "Lift suppression",
        }
        return TemplateResponse(request, "admin/consent/simple_form.html", context)


@admin.register(ReconsentRequest)
class ReconsentRequestAdmin(SubjectEmailSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("subject_link", "purpose", "expired_at", "status", "created_at", "resolved_at")
    list_filter = ("status", "purpose")
    list_select_related = ("subject", "purpose")
    search_fields = ("=subject__public_id",)
    show_full_result_count = False
    actions = ["dismiss"]
    fields = ("subject_link", "purpose", "expired_at", "status", "created_at", "resolved_at")
    readonly_fields = fields

    @admin.display(description="Subject")
    def subject_link(self, obj: ReconsentRequest) -> str:
        return _subject_link(obj.subject.public_id)

    @admin.action(description="Dismiss (don't ask these subjects again)", permissions=["dismiss"])
    def dismiss(self, request, queryset):
        done = sum(
            services.reconsent_request_dismiss(request_id=pk, actor=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        messages.success(request, f"{done} request(s) dismissed.")

    def has_dismiss_permission(self, request) -> bool:
        return request.user.has_perm("consent.change_reconsentrequest")
