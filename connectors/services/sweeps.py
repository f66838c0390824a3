"""Retention across systems: an external collection's expired rows erased in key windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import System

from ..expiry import expired_batches
from .erasure import journal


@dataclass
class ExternalSweepResult:
    """Rows erased per collection (the certificate's counts) and expired rows kept under a hold."""

    counts: dict[str, int] = field(default_factory=dict)
    kept: int = 0

    @property
    def erased(self) -> int:
        return sum(self.counts.values())


def external_retention_sweep(
    *,
    system: System,
    collection: str,
    timestamp_field: str,
    period_days: int,
    sweep_reference: str,
    actor: Actor = "retention.sweep",
    held_identities: dict[str, set[str]] | None = None,
    batch_rows: int = 1000,
) -> dict[str, int]:
    """Erase an external collection's rows older than `period_days`, and their dependants, in batches.

    Returns rows per collection. See `external_retention_erase` (what retention's sweep calls).
    """
    return external_retention_erase(
        system=system, collection=collection, timestamp_field=timestamp_field,
        before=timezone.now() - timedelta(days=period_days), sweep_reference=sweep_reference, actor=actor,
        held_identities=held_identities, batch_rows=batch_rows,
    ).counts  # fmt: skip


def external_retention_erase(
    *,
    system: System,
    collection: str,
    timestamp_field: str,
    before: datetime,
    sweep_reference: str,
    actor: Actor = "retention.sweep",
    held_identities: dict[str, set[str]] | None = None,
    batch_rows: int = 1000,
) -> ExternalSweepResult:
    """Erase the collection's rows whose `timestamp_field` is before `before`, with their dependants.

    Each batch: the next key window of expired rows (rows whose identity fields match a held
    identity are kept: legal holds), their children along the references, journaled (under
    `sweep_reference`) then erased by the dataset's strategies in one transaction.
    """
    result = ExternalSweepResult()
    for connector, batch in expired_batches(
        system=system, collection=collection, timestamp_field=timestamp_field, before=before,
        held_identities=held_identities, batch_rows=batch_rows,
    ):  # fmt: skip
        result.kept += batch.kept
        if not batch.steps:
            continue
        journal(system=system, run=None, steps=batch.steps, sweep_reference=sweep_reference)
        for cname, n in connector.apply(batch.steps).items():
            result.counts[cname] = result.counts.get(cname, 0) + n
    audit_record(
        action="connectors.retention_swept",
        actor=actor,
        target=system,
        details={"collection": collection, "schedule": sweep_reference, "counts": result.counts,
                 "kept": result.kept},
    )  # fmt: skip
    return result
