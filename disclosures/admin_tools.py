"""List tools for the disclosures screens: a §1798.83 calendar-year filter and lookups by a customer's email.

Officers look people up by email address, not by ids: every search box and the notice preview accept an
email (case- and space-insensitive), a public id, or (search boxes) a name.
"""

import uuid

from django.contrib import admin
from django.utils import timezone

from inventory.selectors import subject_search

from . import rules

YEARS_OFFERED = 6


class CalendarYearFilter(admin.SimpleListFilter):
    """Calendar year in California time (the §1798.83 year), on the model's `at` field."""

    title = "calendar year"
    parameter_name = "year"
    field = "at"

    def lookups(self, request, model_admin):
        this_year = rules.year_of(timezone.now())
        return [(str(y), str(y)) for y in range(this_year, this_year - YEARS_OFFERED, -1)]

    def queryset(self, request, queryset):
        if not (self.value() or "").isdigit():
            return queryset
        start, end = rules.year_bounds(int(self.value()))
        return queryset.filter(**{f"{self.field}__gte": start, f"{self.field}__lt": end})


class DeliveredYearFilter(CalendarYearFilter):
    """Calendar year a notice was delivered in (not the year it covers)."""

    title = "delivered in"
    parameter_name = "delivered_year"
    field = "delivered_at"


def subject_id_for(term: str) -> int | None:
    """The one customer an officer means by an email address or a public id; None if none or ambiguous."""
    term = term.strip()
    if "@" not in term:
        try:
            uuid.UUID(term)
        except ValueError:
            return None
    ids = list(subject_search(term).values_list("pk", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None
