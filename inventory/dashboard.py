"""Inventory cards for the admin index: who we hold data about, and how much, by category.

Aggregate queries only: one pass over the subjects, and one count (or PostgreSQL estimate, on large
tables) per registered model. Cached briefly, as every admin page view of the index would repeat them.
"""

from django.core.cache import cache
from django.urls import reverse

from core.dashboard import Card

from .models import DataCategory
from .selectors import RowCount, record_counts_by_category, subject_summary

CACHE_KEY = "inventory:dashboard"
CACHE_SECONDS = 60


def _number(count: RowCount | int) -> str:
    if isinstance(count, int):
        return f"{count:,}"
    return f"≈ {count.value:,}" if count.estimated else f"{count.value:,}"


def _facts() -> dict:
    facts = cache.get(CACHE_KEY)
    if facts is None:
        facts = {
            "summary": subject_summary(),
            "records": record_counts_by_category(),
            "categories": dict(DataCategory.objects.values_list("code", "name")),
        }
        cache.set(CACHE_KEY, facts, CACHE_SECONDS)
    return facts


def dashboard_cards(request) -> list[Card]:
    if not request.user.has_perm("inventory.view_datasubject"):
        return []
    facts = _facts()
    summary = facts["summary"]
    subjects = reverse("admin:inventory_datasubject_changelist")
    cards = [
        Card(
            title="Data subjects",
            value=_number(summary.total - summary.erased),
            url=f"{subjects}?erased=no",
            note=f"{summary.persons:,} individuals, {summary.entities:,} juristic entities",
        ),
        Card(
            title="California residents",
            value=_number(summary.california),
            url=f"{subjects}?jurisdiction=us-ca&erased=no",
            note="CCPA/CPRA and Cal. Civ. Code §1798.83 apply",
        ),
        Card(
            title="Minors",
            value=_number(summary.minors),
            url=f"{subjects}?is_minor__exact=1&erased=no",
            level="warning" if summary.minors else "info",
            note="Policy §9: minors are not eligible; review and erase" if summary.minors else "",
        ),
        Card(title="Erased subjects", value=_number(summary.erased), url=f"{subjects}?erased=yes"),
    ]
    for code, count in facts["records"].items():
        cards.append(
            Card(
                title=facts["categories"].get(code, code),
                value=_number(count),
                note="records (estimate)" if count.estimated else "records",
            )
        )
    return cards
