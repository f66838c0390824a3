"""Retention periods in the data map / Art. 30 record (connectors.datamap asks; we answer)."""

from typing import Any

from .models import RetentionSchedule


def contribute_retention(rows: list[dict[str, Any]]) -> None:
    """Each row gets the active schedules that govern it: for our own database the category's schedules,
    for another system the schedules that sweep its collections; and their stated basis (the purpose)."""
    schedules = list(
        RetentionSchedule.objects.filter(active=True).select_related("category", "system").order_by("id")
    )
    for row in rows:
        found = [
            s
            for s in schedules
            if s.category.code == row["category"]
            and (
                (s.external_collection and s.system.code == row["system"])
                or (not s.external_collection and row["kind"] == "internal")
            )
        ]
        row["retention"] = "; ".join(dict.fromkeys(str(s) for s in found))
        row["retention_basis"] = "; ".join(dict.fromkeys(s.legal_basis for s in found))
