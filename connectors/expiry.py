"""Expired rows of an external collection, batch by batch: shared by the sweep (services) and its dry
run (selectors), so the forecast counts exactly the rows the sweep would erase."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError

from . import sql
from .connector import SqlConnector, for_system


@dataclass(frozen=True)
class ExpiredBatch:
    """One key window: the erasure steps for its expired rows (and dependants), and rows kept (held)."""

    steps: list[sql.ErasureStep]
    kept: int


def check_target(connector: object, collection: str, timestamp_field: str, code: str) -> None:
    """Refuse a target the sweep can't work on (names only: no data is read)."""
    if not isinstance(connector, SqlConnector):
        raise ValidationError("Retention sweeps reach SQL systems only.")
    g = connector.graph
    if collection not in g.collections:
        raise ValidationError(f"Collection {collection!r} is not in the datasets of {code!r}.")
    if timestamp_field not in g.collections[collection].fields:
        raise ValidationError(f"Field {collection}.{timestamp_field} is not in the dataset.")


def expired_batches(
    *,
    system: object,
    collection: str,
    timestamp_field: str,
    before: datetime,
    held_identities: dict[str, set[str]] | None = None,
    batch_rows: int = 1000,
) -> Iterator[tuple[SqlConnector, ExpiredBatch]]:
    """Yield each key window's erasure steps; rows matching a held identity are skipped and counted.

    Reads only: the caller journals and applies (the sweep) or counts (the dry run). A caller that
    erases between two batches is safe: windows move by primary key, not by offset.
    """
    connector = for_system(system)
    check_target(connector, collection, timestamp_field, system.code)
    g = connector.graph
    coll = g.collections[collection]
    if connector.engine.dialect.name != "postgresql":
        before = before.replace(tzinfo=None)  # naive timestamps on MySQL/SQLite
    held = {f.name: {v.strip().lower() for v in (held_identities or {}).get(f.identity, ())}
            for f in coll.fields.values() if f.identity}  # fmt: skip
    held_keys = _held_keys(connector, collection, held_identities or {})
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
            ),  # fmt: skip
            read_only=True,
        )
        if not rows:
            return
        after = rows[-1][coll.primary_key[0]]
        pk = coll.primary_key[0]
        free = [
            r
            for r in rows
            if r[pk] not in held_keys
            and not any(str(r.get(f) or "").strip().lower() in v for f, v in held.items() if v)
        ]
        kept = len(rows) - len(free)
        if not free:
            yield connector, ExpiredBatch([], kept)
            continue
        found = sql.run_in_transaction(
            connector.engine,
            lambda conn, rs=free: sql.traverse_by_steps(
                conn, g, {}, row_cap=connector.connection.row_cap, start=(collection, rs)
            ),
            read_only=True,
        )
        steps = [s for s in (still_to_erase(s) for s in connector.steps(found)) if s.row_count]
        yield connector, ExpiredBatch(steps, kept)


def _held_keys(connector: SqlConnector, collection: str, held_identities: dict[str, set[str]]) -> set:
    """Primary keys of the collection's rows that belong to held subjects, found the way a request finds
    a subject's data (identities, then references): a collection without an identity field (orders,
    reached from customers) is protected too. A truncated lookup refuses the sweep rather than erase
    held rows it could not see."""
    identities = {k: sorted(v) for k, v in held_identities.items() if v}
    if not identities:
        return set()
    found = sql.run_in_transaction(
        connector.engine,
        lambda conn: sql.traverse(conn, connector.graph, identities, row_cap=connector.connection.row_cap),
        read_only=True,
    )
    result = found.collections.get(collection)
    if result is None:
        return set()
    if result.truncated:
        raise ValidationError(
            f"Held subjects' rows in {collection!r} exceed the row cap: raise it before sweeping this collection."
        )
    pk = connector.graph.collections[collection].primary_key[0]
    return {r[pk] for r in result.rows}


def still_to_erase(step: sql.ErasureStep) -> sql.ErasureStep:
    """The step without rows a previous sweep already nulled or hashed: expired rows stay in the
    collection under field strategies, and the next sweep must neither count nor journal them again."""
    if not isinstance(step.strategy, dict) or step.rows is None:
        return step

    def pending(row: dict) -> bool:
        for name, how in step.strategy.items():
            value = row.get(name)
            if value is not None and not (how == "hash" and sql.HASHED.match(str(value))):
                return True
        return False

    rows = [r for r in step.rows if pending(r)]
    keys = [[r[c] for c in step.key_columns] for r in rows]
    return sql.ErasureStep(step.collection, step.dataset, step.strategy, step.key_columns, keys, rows)
