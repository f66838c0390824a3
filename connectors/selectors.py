"""Reads of the connectors app: per-case system status and access results (for packages and previews)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from . import fides
from .connector import parsed_dataset
from .models import Dataset, SystemRun
from .secrets import open_json


@dataclass(frozen=True)
class SystemStatus:
    """One line of a case page's "Other systems" panel (no personal data)."""

    run_id: int
    public_id: str
    system_code: str
    system_name: str
    action: str
    status: str
    error: str
    counts: dict[str, int]
    truncated: list[str]
    attempts: int
    waived_reason: str

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "pending")


def case_runs(*, case_id: int) -> QuerySet[SystemRun]:
    return (
        SystemRun.objects.filter(case_id=case_id).select_related("system").order_by("system__name", "action")
    )


def case_systems_status(*, case_id: int) -> list[SystemStatus]:
    return [
        SystemStatus(
            run_id=r.pk,
            public_id=str(r.public_id),
            system_code=r.system.code,
            system_name=r.system.name,
            action=r.action,
            status=r.status,
            error=r.error,
            counts=r.counts or {},
            truncated=r.truncated or [],
            attempts=r.attempts,
            waived_reason=r.waived_reason,
        )
        for r in case_runs(case_id=case_id)
    ]


@dataclass
class CollectionRows:
    """One collection's rows in one system, with its fields' categories (labels for the package)."""

    system_code: str
    system_name: str
    collection: str
    rows: list[dict[str, Any]]
    categories: dict[str, list[str]] = field(default_factory=dict)  # field -> our category codes
    truncated: bool = False

    def csv(self) -> str:
        out = io.StringIO()
        columns = list(self.rows[0]) if self.rows else []
        writer = csv.writer(out)
        writer.writerow([f"{c} ({', '.join(self.categories.get(c, [])) or '-'})" for c in columns])
        for row in self.rows:
            writer.writerow([row.get(c) for c in columns])
        return out.getvalue()


def _field_categories(system_id: int) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for d in Dataset.objects.filter(system_id=system_id):
        ds = parsed_dataset(d.pk, d.updated_at, d.text)
        for coll in ds.collections.values():
            cats = out.setdefault(coll.name, {})
            for f in coll.fields.values():
                codes = sorted(
                    {c for c in (fides.category_for(x, d.category_map) for x in f.data_categories) if c}
                )
                cats[f.name] = codes
    return out


def case_access_results(*, case_id: int) -> list[CollectionRows]:
    """Every access run's rows of a case, by system and collection (for the package and preview)."""
    out: list[CollectionRows] = []
    runs = case_runs(case_id=case_id).filter(action=SystemRun.Action.ACCESS, status="done").exclude(result="")
    for run in runs:
        cats = _field_categories(run.system_id)
        for collection, rows in open_json(run.result).items():
            short = collection.split(":")[-1]
            out.append(
                CollectionRows(
                    system_code=run.system.code,
                    system_name=run.system.name,
                    collection=collection,
                    rows=rows,
                    categories=cats.get(short, {}),
                    truncated=collection in (run.truncated or []),
                )
            )
    return out


@dataclass(frozen=True)
class ManualUpload:
    """An export file a system owner uploaded for a case (joins the access package)."""

    system_code: str
    system_name: str
    file_name: str
    content: bytes


def case_manual_uploads(*, case_id: int) -> list[ManualUpload]:
    from .manual import manual_upload

    runs = case_runs(case_id=case_id).filter(status="done").exclude(upload="")
    return [ManualUpload(r.system.code, r.system.name, r.upload_name, manual_upload(r)) for r in runs]


# --- retention across systems --------------------------------------------------------------------


def external_retention_forecast(
    *,
    system: Any,
    collection: str,
    timestamp_field: str,
    before: Any,
    held_identities: dict[str, set[str]] | None = None,
) -> tuple[dict[str, int], int]:
    """What `external_retention_erase` would erase now (rows per collection) and keep (held). Reads only."""
    from .expiry import expired_batches

    counts: dict[str, int] = {}
    kept = 0
    for _, batch in expired_batches(
        system=system, collection=collection, timestamp_field=timestamp_field, before=before,
        held_identities=held_identities,
    ):  # fmt: skip
        kept += batch.kept
        for step in batch.steps:
            counts[step.collection] = counts.get(step.collection, 0) + step.row_count
    return counts, kept


def external_target_check(*, system: Any, collection: str, timestamp_field: str) -> None:
    """ValidationError unless the system is a connected SQL system whose datasets hold the collection and
    field (no connection is opened)."""
    from django.core.exceptions import ValidationError

    from .connector import NotConnected, SqlConnector, system_graph
    from .expiry import check_target
    from .models import Connection

    conn = Connection.objects.filter(system=system).first()
    if conn is None or conn.kind != Connection.Kind.SQL:
        raise ValidationError("Retention sweeps reach SQL systems only: connect the system first.")
    try:
        g, erase = system_graph(system)
    except NotConnected as exc:
        raise ValidationError(str(exc)) from None
    check_target(SqlConnector(conn, g, erase), collection, timestamp_field, system.code)
