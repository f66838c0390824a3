"""Datasets: Fides files imported unchanged, exported as imported, checked against the live schema."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from core.actors import Actor
from inventory.models import System

from .. import fides, graph, sql
from ..connector import for_system, system_graph
from ..models import Dataset


@transaction.atomic
def dataset_import(
    *,
    system: System,
    text: str,
    actor: Actor,
    erase: dict[str, str] | None = None,
    category_map: dict[str, str] | None = None,
) -> list[Dataset]:
    """Store a Fides file (every dataset in it) for a system, unchanged; errors by line, nothing saved."""
    parsed = fides.parse(text)
    problems = []
    g = graph.build(parsed)
    problems += graph.validate_erase(g, erase or {})
    if problems:
        raise ValidationError(problems)
    saved = []
    for ds in parsed:
        other = Dataset.objects.filter(fides_key=ds.fides_key).exclude(system=system).first()
        if other is not None:
            raise ValidationError(
                f"Dataset {ds.fides_key!r} already belongs to system {other.system.code!r}."
            )
        row, _ = Dataset.objects.update_or_create(
            fides_key=ds.fides_key,
            defaults={
                "system": system,
                "name": ds.name,
                "text": text if len(parsed) == 1 else _single(text, ds.fides_key),
                "erase": erase or {},
                "category_map": category_map or {},
            },
        )
        saved.append(row)
    audit_record(
        action="connectors.dataset_imported",
        actor=actor,
        target=system,
        details={"datasets": [d.fides_key for d in saved]},
    )
    return saved


def _single(text: str, key: str) -> str:
    """One dataset of a multi-dataset file, as its own Fides document."""
    import yaml

    doc = yaml.safe_load(text)
    doc["dataset"] = [d for d in doc["dataset"] if d.get("fides_key") == key]
    return yaml.safe_dump(doc, sort_keys=False)


def dataset_export(*, system: System) -> str:
    """The system's Fides file(s) as imported (one document; several datasets are concatenated)."""
    rows = list(Dataset.objects.filter(system=system).order_by("fides_key"))
    if not rows:
        raise ValidationError(f"System {system.code!r} has no dataset.")
    if len(rows) == 1:
        return rows[0].text
    import yaml

    merged = {"dataset": [d for r in rows for d in yaml.safe_load(r.text)["dataset"]]}
    return yaml.safe_dump(merged, sort_keys=False)


@dataclass
class CheckReport:
    errors: list[str]
    warnings: list[str]
    paths: list[list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_check(*, system: System) -> CheckReport:
    """The system's datasets against its live schema: unknown tables/columns, missing indexes (with DDL)."""
    connector = for_system(system)
    g, erase = system_graph(system)
    errors = graph.validate_erase(g, erase)
    warnings: list[str] = []
    if hasattr(connector, "check"):
        try:
            e, w = connector.check()
        except sa.exc.SQLAlchemyError as exc:
            raise sql.SystemUnavailable(f"{type(exc).__name__}: could not inspect the schema") from None
        errors += e
        warnings += w
    return CheckReport(errors=errors, warnings=warnings, paths=g.paths())
