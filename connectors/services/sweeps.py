"""Retention across systems: an external collection's expired rows erased in key windows."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import System

from .. import sql
from ..connector import for_system
from .erasure import journal


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
    """Erase an external collection's rows older than the period, and their dependants, in batches.

    Each batch: the next key window of expired rows (rows whose identity fields match a held
    identity are skipped: legal holds), their children along the references, journaled then erased
    by the dataset's strategies in one transaction. Returns rows per collection for the certificate.
    retention calls this for schedules that target an external collection.
    """
    from datetime import timedelta

    from ..connector import SqlConnector

    connector = for_system(system)
    if not isinstance(connector, SqlConnector):
        raise ValidationError("Retention sweeps reach SQL systems only.")
    g = connector.graph
    if collection not in g.collections:
        raise ValidationError(f"Collection {collection!r} is not in the datasets of {system.code!r}.")
    coll = g.collections[collection]
    if timestamp_field not in coll.fields:
        raise ValidationError(f"Field {collection}.{timestamp_field} is not in the dataset.")
    before = timezone.now() - timedelta(days=period_days)
    if connector.engine.dialect.name != "postgresql":
        before = before.replace(tzinfo=None)  # naive timestamps on MySQL/SQLite
    held = {f.name: {v.strip().lower() for v in (held_identities or {}).get(f.identity, ())}
            for f in coll.fields.values() if f.identity}  # fmt: skip
    counts: dict[str, int] = {}
    after = None
    while True:
        rows = sql.run_in_transaction(
            connector.engine,
            lambda conn, a=after: sql.expired_rows(
                conn,
                g,
                collection,
                timestamp_field=timestamp_field,
                before=before,
                after_key=a,
                limit=batch_rows,
            ),
            read_only=True,
        )
        if not rows:
            break
        after = rows[-1][coll.primary_key[0]]
        rows = [
            r for r in rows if not any(str(r.get(f) or "").strip().lower() in v for f, v in held.items() if v)
        ]
        if not rows:
            continue
        found = sql.run_in_transaction(
            connector.engine,
            lambda conn, rs=rows: sql.traverse_by_steps(
                conn, g, {}, row_cap=connector.connection.row_cap, start=(collection, rs)
            ),
            read_only=True,
        )
        steps = connector.steps(found)
        if not steps:
            continue
        journal(system=system, run=None, steps=steps, sweep_reference=sweep_reference)
        for cname, n in connector.apply(steps).items():
            counts[cname] = counts.get(cname, 0) + n
    audit_record(
        action="connectors.retention_swept",
        actor=actor,
        target=system,
        details={"collection": collection, "schedule": sweep_reference, "counts": counts},
    )
    return counts
