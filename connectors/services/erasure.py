"""Access and erasure in one system outside a case, the journal (first) and its replay."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import connection
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from core.actors import Actor
from inventory.models import System

from .. import sql
from ..connector import for_system
from ..models import ErasureJournal, SystemRun


def system_access(*, system: System, identities: dict[str, list[str]]) -> sql.Traversal:
    """The rows a request would return from one system, by collection (no run, no journal)."""
    return for_system(system).access(identities)


def system_erase(
    *, system: System, identities: dict[str, list[str]], actor: Actor, dry_run: bool
) -> dict[str, int]:
    """Erase one identity's rows in one system outside a case (journaled, audited); dry_run counts only."""
    connector = for_system(system, datasets_alongside=True)
    if dry_run:
        return {s.collection: s.row_count for s in connector.steps(connector.access(identities))}
    counts = erase_passes(system=system, connector=connector, identities=identities, run=None)
    audit_record_many([{
        "action": "connectors.system_erased", "actor": actor, "target_type": system._meta.label_lower,
        "target_id": system.pk, "details": {"counts": counts},
    }])  # one round trip (the chain's lock, head and insert in one statement on PostgreSQL)  # fmt: skip
    return counts


def erase_passes(
    *,
    system: System,
    connector: Any,
    identities: dict[str, list[str]],
    run: SystemRun | None,
    sweep_reference: str = "",
) -> dict[str, int]:
    """Traverse, journal (committed before the external commit), apply; again while a collection came
    back truncated."""
    from ..conf import max_erasure_passes

    counts: dict[str, int] = {}
    for _ in range(max_erasure_passes()):
        found = connector.access(identities)
        steps = connector.steps(found)
        if not steps:
            break
        write_journal = partial(journal, system=system, run=run, steps=steps, sweep_reference=sweep_reference)
        for cname, n in connector.apply_journaled(steps, write_journal).items():
            counts[cname] = counts.get(cname, 0) + n
        if not found.truncated:
            break
    return counts


def journal(
    *, system: System, run: SystemRun | None, steps: list[sql.ErasureStep], sweep_reference: str = ""
) -> None:
    """Journal first: the keys are committed before the external change, in the order applied.

    One multi-row INSERT (atomic by itself) instead of bulk_create's BEGIN, INSERT, COMMIT: it is on
    every erasure's critical path. Values are prepared by the model's own fields (JSON, datetimes).
    """
    if not steps:
        return
    names = (
        "system",
        "run",
        "sweep_reference",
        "dataset",
        "collection",
        "strategy",
        "keys",
        "row_count",
        "at",
    )
    fields = [ErasureJournal._meta.get_field(n) for n in names]
    now = timezone.now()
    params: list[Any] = []
    for s in steps:
        values = (system.pk, run.pk if run else None, sweep_reference, s.dataset, s.collection, s.strategy,
                  s.journal_keys(), s.row_count, now)  # fmt: skip
        params += [f.get_db_prep_save(v, connection=connection) for f, v in zip(fields, values, strict=True)]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(ErasureJournal._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * len(steps))}",
            params,
        )


def steps_from_journal(entries: list[ErasureJournal]) -> list[sql.ErasureStep]:
    return [
        sql.ErasureStep(e.collection, e.dataset, e.strategy, e.keys["columns"], e.keys["values"])
        for e in entries
    ]


def journal_replay(*, system: System, actor: Actor, since_id: int = 0) -> dict[str, int]:
    """Re-apply a system's journal (after that system was restored from a backup); idempotent."""
    connector = for_system(system)
    entries = list(ErasureJournal.objects.filter(system=system, id__gt=since_id).order_by("id"))
    counts: dict[str, int] = {}
    for cname, n in connector.apply(steps_from_journal(entries)).items() if entries else []:
        counts[cname] = counts.get(cname, 0) + n
    audit_record(
        action="connectors.journal_replayed",
        actor=actor,
        target=system,
        details={"entries": len(entries), "counts": counts},
    )
    return counts
