"""Access and erasure in one system outside a case, the journal (first) and its replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from audit.services import audit_append_sql, audit_record, audit_record_many
from core.actors import Actor
from inventory.models import System

from .. import sql
from ..connector import for_system
from ..models import ErasureJournal, SystemRun


def system_access(*, system: System, identities: dict[str, list[str]]) -> sql.Traversal:
    """The rows a request would return from one system, by collection (no run, no journal)."""
    return for_system(system).access(identities)


# The event the journal's statement appends before the system commits: it must not say "erased" yet.
JOURNALED_EVENT = "connectors.system_erase_journaled"


def system_erase(
    *, system: System, identities: dict[str, list[str]], actor: Actor, dry_run: bool
) -> dict[str, int]:
    """Erase one identity's rows in one system outside a case (journaled, audited); dry_run counts only.

    On PostgreSQL (ours and theirs) the journal's own statement of the last pass appends the audit
    event, which commits before the system's transaction does (one statement and commit fewer after the
    change), so it says what is true at that moment: `system_erase_journaled`, the keys journaled and
    the change sent, not "erased". Should the system's transaction then fail, `system_erase_failed`
    follows (the journaled keys stay, for `replay_system_erasures`). Elsewhere the event is appended
    after the system's commit and says `system_erased`.
    """
    connector = for_system(system, datasets_alongside=True)
    if dry_run:
        return {s.collection: s.row_count for s in connector.steps(connector.access(identities))}

    def event(
        counts: dict[str, int], action: str = "connectors.system_erased", **details: Any
    ) -> dict[str, Any]:
        return {
            "action": action, "actor": actor, "target_type": system._meta.label_lower, "target_id": system.pk,
            "details": {"counts": counts, **details},
        }  # fmt: skip

    audited: list[dict[str, int]] = []
    try:
        counts = erase_passes(
            system=system, connector=connector, identities=identities, run=None, audit=(event, audited)
        )
    except Exception as exc:
        if audited:
            audit_record_many([event(audited[0], "connectors.system_erase_failed", error=type(exc).__name__)])
        raise
    if not audited:
        audit_record_many([event(counts)])  # one round trip (lock, head and insert in one statement on PG)
    return counts


def erase_passes(
    *,
    system: System,
    connector: Any,
    identities: dict[str, list[str]],
    run: SystemRun | None,
    sweep_reference: str = "",
    audit: tuple[Callable[..., dict[str, Any]], list[dict[str, int]]] | None = None,
) -> dict[str, int]:
    """Traverse, journal (committed before the external commit), apply; again while a collection came
    back truncated.

    `audit` (an event for the final counts, and a list told them once appended): where the journal's
    commit overlaps the system's statements (both databases PostgreSQL), the last pass's journal
    statement appends the event (as JOURNALED_EVENT: the system has not committed yet) with the counts
    journaled; elsewhere nothing is appended here.
    """
    from ..conf import max_erasure_passes

    counts: dict[str, int] = {}
    for _ in range(max_erasure_passes()):
        found = connector.access(identities)
        steps = connector.steps(found)
        if not steps:
            break
        write_journal = partial(journal, system=system, run=run, steps=steps, sweep_reference=sweep_reference)
        if audit is not None and _audit_with_journal(connector, found):
            journaled = dict(counts)
            for s in steps:
                journaled[s.collection] = journaled.get(s.collection, 0) + s.row_count
            event = audit[0](journaled, action=JOURNALED_EVENT)
            write_journal = partial(_journal_audited, write_journal, event, journaled, audit[1])
        for cname, n in connector.apply_journaled(steps, write_journal).items():
            counts[cname] = counts.get(cname, 0) + n
        if not found.truncated:
            break
    return counts


def _audit_with_journal(connector: Any, found: sql.Traversal) -> bool:
    """The last pass (nothing truncated), both databases PostgreSQL, the journal overlapping the change."""
    return (
        not found.truncated
        and connection.vendor == "postgresql"
        and getattr(connector, "journal_overlaps", False)
    )


def _journal_audited(
    write_journal: Callable[..., None],
    event: dict[str, Any],
    counts: dict[str, int],
    appended: list[dict[str, int]],
) -> None:
    write_journal(audit=[event])
    appended.append(counts)


def journal(
    *,
    system: System,
    run: SystemRun | None,
    steps: list[sql.ErasureStep],
    sweep_reference: str = "",
    audit: list[dict[str, Any]] | None = None,
) -> None:
    """Journal first: the keys are committed before the external change, in the order applied.

    One INSERT (atomic by itself) instead of bulk_create's BEGIN, INSERT, COMMIT: it is on every
    erasure's critical path. With `audit` (PostgreSQL), the same statement appends those events after
    the rows (one commit).
    """
    if not steps:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        _journal_pg(system.pk, run.pk if run else None, sweep_reference, steps, now, audit or [])
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


# The steps as arrays, one per column, in the order applied (ids follow it), bound server-side in binary:
# the same text and a dozen parameters whatever the number of steps, nothing quoted client-side (a
# VALUES row per step was nine placeholders a step, parsed and quoted by psycopg on every erasure).
_JOURNAL_PG = (
    f"INSERT INTO {ErasureJournal._meta.db_table} (system_id, run_id, sweep_reference, at, dataset, collection,"
    " strategy, keys, row_count)"
    " SELECT %b, %b::bigint, %b, %b, d, c, s::jsonb, k::jsonb, n FROM unnest(%b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::integer[]) WITH ORDINALITY AS u(d, c, s, k, n, i) ORDER BY i"
)


def _journal_pg(
    system_id: int, run_id: int | None, sweep_reference: str, steps: list[sql.ErasureStep], now: Any,
    audit: list[dict[str, Any]],
) -> None:  # fmt: skip
    params = [
        system_id, run_id, sweep_reference, now,
        [s.dataset for s in steps], [s.collection for s in steps],
        [json.dumps(s.strategy) for s in steps], [json.dumps(s.journal_keys()) for s in steps],
        [s.row_count for s in steps],
    ]  # fmt: skip
    statement = _JOURNAL_PG
    if audit:
        call, audit_params = audit_append_sql(audit, after="(SELECT count(*) FROM j) >= 0")
        statement, params = f"WITH j AS ({_JOURNAL_PG} RETURNING 1) SELECT {call}", [*params, *audit_params]
    # A psycopg cursor on Django's connection (as audit's several-event append): not prepared, so a
    # transaction pooler in front of our database stays possible.
    with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as bound:
        bound.execute(statement, params, prepare=False)


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
