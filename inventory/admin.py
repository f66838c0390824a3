"""The inventory in the admin: subjects (search, filters, every record grouped by category), the
reference tables (categories, sources, systems, third parties) and the held records.

Writes go through the services (audited); nothing here deletes a subject or a record: erasure is
the retention app's job, through its services, so no certificate or journal can be bypassed.
"""

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import display
from .fields import EncryptedTextField
from .models import (
    ActivityEvent,
    CompanyAffiliation,
    ContactPoint,
    DataCategory,
    DataSubject,
    MarketingPreference,
    Source,
    SurveyResponse,
    System,
    ThirdParty,
    UserAccount,
)
from .pagination import EstimatedCountPaginator
from .reference import EEA_COUNTRIES
from .registry import registry
from .selectors import subject_search
from .services import (
    SUBJECT_EDITABLE_FIELDS,
    record_create,
    record_update,
    subject_create,
    subject_update,
)
from .subject_links import subject_links

# How many records of each model the subject page shows (newest first); the rest via a link.
RECORDS_PER_MODEL = 100
_LOOKUP_CACHE_SECONDS = 600


def _cached_distinct(key: str, queryset) -> list[str]:
    values = cache.get(key)
    if values is None:
        values = [v for v in queryset if v]
        cache.set(key, values, _LOOKUP_CACHE_SECONDS)
    return values


class JurisdictionFilter(admin.SimpleListFilter):
    """By the privacy regime that applies, which is how officers think about a subject's rights."""

    title = "jurisdiction"
    parameter_name = "jurisdiction"

    def lookups(self, request, model_admin):
        return [
            ("us-ca", "California (US-CA)"),
            ("us-other", "Other US states"),
            ("eea", "EU / EEA"),
            ("uk", "United Kingdom"),
            ("other", "Elsewhere"),
            ("unknown", "Unknown"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "us-ca":
                return queryset.filter(country="US", region="CA")
            case "us-other":
                return queryset.filter(country="US").exclude(region="CA")
            case "eea":
                return queryset.filter(country__in=EEA_COUNTRIES)
            case "uk":
                return queryset.filter(country="GB")
            case "other":
                return queryset.exclude(country__in=[*EEA_COUNTRIES, "US", "GB", ""])
            case "unknown":
                return queryset.filter(country="")
        return queryset


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        countries = _cached_distinct(
            "inventory:admin:countries",
            DataSubject.objects.order_by("country").values_list("country", flat=True).distinct(),
        )
        return [(c, c) for c in countries]

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class RegionFilter(admin.SimpleListFilter):
    """Regions of the chosen country only (hidden until a country is chosen)."""

    title = "region"
    parameter_name = "region"

    def lookups(self, request, model_admin):
        country = request.GET.get("country", "")
        if not country:
            return []
        regions = _cached_distinct(
            f"inventory:admin:regions:{country}",
            DataSubject.objects.filter(country=country)
            .order_by("region")
            .values_list("region", flat=True)
            .distinct(),
        )
        return [(r, f"{country}-{r}") for r in regions]

    def queryset(self, request, queryset):
        return queryset.filter(region=self.value()) if self.value() else queryset


class ErasedFilter(admin.SimpleListFilter):
    title = "erased"
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return [("yes", "Erased"), ("no", "Not erased")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        return queryset


class DataSubjectAddForm(forms.ModelForm):
    # Not named date_of_birth: that model field holds ciphertext and is not editable.
    birth_date = forms.DateField(
        required=False,
        label="Date of birth",
        help_text="Stored encrypted under the subject's own data key; sets the minor flag.",
    )

    class Meta:
        model = DataSubject
        fields = [f for f in SUBJECT_EDITABLE_FIELDS if f != "is_minor"]


@admin.register(DataSubject)
class DataSubjectAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "kind",
        "name",
        "email",
        "jurisdiction_display",
        "is_minor",
        "erased",
        "created_at",
    )
    list_filter = ("kind", JurisdictionFilter, CountryFilter, RegionFilter, "is_minor", ErasedFilter)
    # The search itself is subject_search (see get_search_results); this enables the search box.
    search_fields = ("name",)
    search_help_text = "An email address (exact, any case), a public id, or part of a name."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    readonly_fields = ("public_id", "created_at", "updated_at", "erased_at")
    fieldsets = [
        (None, {"fields": ("public_id", "kind", "name", "company", "role")}),
        ("Contact", {"fields": ("email", "phone", "postal_address")}),
        ("Jurisdiction", {"fields": ("country", "region", "is_minor")}),
        ("History", {"fields": ("created_at", "updated_at", "erased_at")}),
    ]
    add_fieldsets = [
        (None, {"fields": ("kind", "name", "company", "role")}),
        ("Contact", {"fields": ("email", "phone", "postal_address")}),
        ("Jurisdiction", {"fields": ("country", "region", "birth_date")}),
    ]

    @admin.display(description="subject", ordering="pk")
    def reference(self, obj: DataSubject) -> str:
        return str(obj)

    @admin.display(description="jurisdiction", ordering="country")
    def jurisdiction_display(self, obj: DataSubject) -> str:
        return obj.jurisdiction

    @admin.display(description="erased", boolean=True, ordering="erased_at")
    def erased(self, obj: DataSubject) -> bool:
        return obj.erased_at is not None

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset & subject_search(search_term), False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DataSubjectAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.erased_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # erasure goes through the retention services, never a row delete

    def save_model(self, request, obj, form, change):
        try:
            if change:
                original = DataSubject.objects.get(pk=obj.pk)
                changes = {n: form.cleaned_data[n] for n in form.changed_data if n in SUBJECT_EDITABLE_FIELDS}
                saved = subject_update(subject=original, changes=changes, actor=request.user)
            else:
                values = {n: form.cleaned_data[n] for n in form.cleaned_data if n in SUBJECT_EDITABLE_FIELDS}
                saved = subject_create(
                    **values, date_of_birth=form.cleaned_data.get("birth_date"), actor=request.user
                )
        except ValidationError as exc:  # the service re-checks what the form checked; be safe
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            raise
        vars(obj).update(vars(saved))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add:
            context.update(self._records_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _records_context(self, request, subject: DataSubject) -> dict:
        """Every registered record of the subject, by category; sealed unless revealed, with a reason."""
        may_reveal = display.may_reveal(request.user)
        reason = request.GET.get("reveal_reason", "").strip()
        asked = may_reveal and request.GET.get("reveal") == "1"
        if asked and not reason:
            self.message_user(request, "Give a reason to reveal sensitive fields.", messages.WARNING)
        reveal = asked and bool(reason)
        groups = display.humanize(
            display.subject_records(
                subject,
                user=request.user,
                reveal=reveal,
                channel="admin",
                limit=RECORDS_PER_MODEL,
                reason=reason,
            )
        )
        for group in groups:
            for held in group.models:
                if held.entry.subject:
                    held.url = _changelist_url(held.entry.model, subject)
        return {
            "record_groups": groups,
            "may_reveal": may_reveal,
            "revealed": reveal,
            "records_per_model": RECORDS_PER_MODEL,
            "subject_links": subject_links(subject),
            "changelist_filters": request.GET.get("_changelist_filters", ""),
        }


def _changelist_url(model, subject: DataSubject) -> str:
    """Link to all of a subject's records of one model, where that admin accepts the subject filter."""
    if not isinstance(admin.site._registry.get(model), HeldRecordAdmin):
        return ""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?subject__public_id={subject.public_id}"


@admin.register(DataCategory)
class DataCategoryAdmin(admin.ModelAdmin):
    """Seeded from the policy (reference.py); officers may refine wording and sensitivity."""

    list_display = ("name", "code", "sensitivity", "policy_reference", "registered_models")
    list_filter = ("sensitivity",)
    search_fields = ("code", "name")
    readonly_fields = ("code", "registered_models")

    @admin.display(description="held in")
    def registered_models(self, obj: DataCategory) -> str:
        return ", ".join(e.verbose_name for e in registry.for_category(obj.code)) or "—"

    def has_add_permission(self, request):
        return False  # a new category needs a model registered in code

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "policy_reference")
    search_fields = ("code", "name")

    def has_delete_permission(self, request, obj=None):
        return False  # records keep pointing at their source


@admin.register(ThirdParty)
class ThirdPartyAdmin(admin.ModelAdmin):
    """Recipients, with what a Cal. Civ. Code §1798.83 notice must print about each of them."""

    list_display = ("legal_name", "kind", "country", "nature_of_business", "same_brand_affiliate", "active")
    list_filter = ("kind", "active", "same_brand_affiliate", "country")
    search_fields = ("legal_name", "nature_of_business")
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    fieldsets = [
        (None, {"fields": ("legal_name", "kind", "active", "same_brand_affiliate")}),
        (
            "Postal address (printed on 1798.83 notices)",
            {"fields": ("street_address", "city", "region", "postal_code", "country")},
        ),
        (
            "Nature of business (printed on 1798.83 notices)",
            {"fields": ("nature_of_business", "product_examples")},
        ),
        ("Privacy contact", {"fields": ("privacy_contact_email",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # disclosure history refers to them: deactivate instead


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "owner", "provider", "location")
    list_filter = ("kind",)
    list_select_related = ("provider",)
    search_fields = ("code", "name", "owner")
    autocomplete_fields = ("provider",)

    def has_delete_permission(self, request, obj=None):
        return False  # records keep pointing at their system


class HeldRecordAdmin(admin.ModelAdmin):
    """Common admin of the held-record models: linked to the subject, never deleted here."""

    list_select_related = ("subject", "source", "system")
    raw_id_fields = ("subject",)
    autocomplete_fields = ("source", "system")
    list_filter = ("source", "system")
    search_fields = ("=subject__public_id",)
    search_help_text = "A subject's public id."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    record_fields: tuple[str, ...] = ()

    def get_list_display(self, request):
        return ("__str__", "subject_link", *self.record_fields, "source", "system", "collected_at")

    def get_list_filter(self, request):
        return (*self.list_filter, *getattr(self, "extra_filters", ()))

    def get_readonly_fields(self, request, obj=None):
        sealed = ("sealed_fields",) if self._sealed() else ()
        return (*super().get_readonly_fields(request, obj), *sealed)

    def _sealed(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.model._meta.concrete_fields if isinstance(f, EncryptedTextField))

    @admin.display(description="encrypted fields")
    def sealed_fields(self, obj) -> str:
        return format_html_join(", ", "{} (encrypted)", ((name,) for name in self._sealed()))

    @admin.display(description="subject", ordering="subject_id")
    def subject_link(self, obj) -> str:
        url = reverse("admin:inventory_datasubject_change", args=[obj.subject_id])
        return format_html('<a href="{}">{}</a>', url, obj.subject)

    def get_search_results(self, request, queryset, search_term):
        # The search box takes a subject's public id; `?subject__public_id=` (links from the subject page)
        # is handled by Django's lookup parameters.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(subject__in=subject_search(term)), False

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "subject__public_id" or super().lookup_allowed(lookup, value, request)

    def has_delete_permission(self, request, obj=None):
        return False  # erasure goes through the retention services

    def save_model(self, request, obj, form, change):
        fields = [n for n in form.changed_data if n in {f.name for f in self.model._meta.concrete_fields}]
        if change:
            original = type(obj)._default_manager.get(pk=obj.pk)
            saved = record_update(
                record=original, changes={n: form.cleaned_data[n] for n in fields}, actor=request.user
            )
        else:
            values = {n: v for n, v in form.cleaned_data.items() if n != "subject"}
            saved = record_create(
                model=self.model, subject=form.cleaned_data["subject"], values=values, actor=request.user
            )
        vars(obj).update(vars(saved))


@admin.register(ContactPoint)
class ContactPointAdmin(HeldRecordAdmin):
    record_fields = ("kind", "value", "is_primary")
    extra_filters = ("kind",)


@admin.register(UserAccount)
class UserAccountAdmin(HeldRecordAdmin):
    record_fields = ("username", "payment_brand", "last_login_at", "closed_at")
    exclude = ("password_hash",)  # a one-way hash: never shown, never typed in


@admin.register(CompanyAffiliation)
class CompanyAffiliationAdmin(HeldRecordAdmin):
    record_fields = ("company_name", "job_title", "company_size", "buying_intent")


@admin.register(MarketingPreference)
class MarketingPreferenceAdmin(HeldRecordAdmin):
    record_fields = ("channel", "frequency")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(HeldRecordAdmin):
    record_fields = ("survey", "question")


@admin.register(ActivityEvent)
class ActivityEventAdmin(HeldRecordAdmin):
    record_fields = ("kind", "target", "geo_country")
    extra_filters = ("kind",)
