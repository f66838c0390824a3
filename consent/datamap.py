"""The consent purposes in the data map / Art. 30 record (connectors.datamap asks; we answer)."""

from typing import Any

from inventory.registry import registry


def contribute_purposes(rows: list[dict[str, Any]]) -> None:
    """Rows of the categories the consent ledger is registered under get the active purposes, each with
    its legal basis: those are the purposes that data is processed for (a generated, not a kept, list)."""
    from .models import Purpose

    categories = {e.category for e in registry if e.model._meta.app_label == "consent"}
    purposes = "; ".join(
        f"{p.name} ({p.get_legal_basis_display()})"
        for p in Purpose.objects.filter(active=True).order_by("code")
    )
    for row in rows:
        if row["category"] in categories:
            row["purposes"] = purposes
        else:
            row.setdefault("purposes", "")
