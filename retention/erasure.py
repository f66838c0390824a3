"""The erasure engine: applies the registry's strategies to a set of records, for any registered model.

Nothing here names a model. Callers (the sweep, `erase_subject`, `replay_erasures`) pass a registry
entry and a queryset already narrowed to the records to erase; this module

- deletes rows on the fast path (one DELETE statement, no Collector, no signals: docs/design.md, performance), on
  PostgreSQL in the same statement as the journal insert
  (`WITH d AS (DELETE ... RETURNING id) INSERT INTO journal SELECT array_agg(id) ...`);
- anonymises rows by the entry's per-field strategies: NULL (empty value), HASH (HMAC-SHA256 under
  the HASH_KEY setting), SHRED (the ciphertext is dropped);
- journals every erasure by record id and method;
- for a subject erasure (`erase_rows_together`), on PostgreSQL: one statement locks and reads the values
  to hash, one more deletes / anonymises every model's rows and journals them (data-modifying CTEs).

Every operation only touches records that still hold something to erase (`pending_q`), so running it
twice erases nothing twice: this is what makes sweeps and replays idempotent.
"""

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import Q, sql

from inventory.registry import Erase, PersonalData, registry

from . import conf, mirror
from .models import Action, ErasureJournal

# A keyed hash is 64 lowercase hex characters; a value that already looks like one is left alone.
HASH_PATTERN = r"^[0-9a-f]{64}$"
_CHUNK = 1000


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of a value under the HASH_KEY setting: lets the same value be recognised, not read."""
    return hmac.new(conf.hash_key().encode(), str(value).encode(), hashlib.sha256).hexdigest()


def empty_value(field: models.Field) -> Any:
    if field.null:
        return None
    if field.has_default():
        return field.get_default()
    return ""


def _is_text(field: models.Field) -> bool:
    return isinstance(field, models.CharField | models.TextField)


@dataclass(frozen=True)
class Plan:
    """How the records of one entry are erased: delete, or the field strategies to apply."""

    method: str  # ErasureJournal.Method value
    strategies: Mapping[str, Erase]

    @property
    def deletes(self) -> bool:
        return self.method == ErasureJournal.Method.DELETE


def plan_for(entry: PersonalData, action: str | None = None) -> Plan:
    """The plan for an entry under a schedule action, or under the registry's own strategy (None)."""
    if action is None:
        action = Action.DELETE if entry.deletes_rows else Action.ANONYMISE
    if action == Action.DELETE:
        return Plan(ErasureJournal.Method.DELETE, {})
    if action == Action.CRYPTO_SHRED:
        return Plan(ErasureJournal.Method.CRYPTO_SHRED, dict.fromkeys(entry.encrypted_fields, Erase.SHRED))
    return Plan(ErasureJournal.Method.ANONYMISE, dict(entry.field_strategies))


def pending_q(model: type[models.Model], plan: Plan) -> Q:
    """Rows that still hold a value the plan would erase (all rows, for a delete)."""
    if plan.deletes:
        return Q()
    q = Q(pk__in=[])
    for name, strategy in plan.strategies.items():
        field = model._meta.get_field(name)
        if strategy == Erase.DELETE:
            continue
        holds_value = Q(**{f"{name}__isnull": False}) if field.null else Q()
        if _is_text(field) or strategy in (Erase.SHRED, Erase.HASH):
            holds_value &= ~Q(**{name: ""})
        elif not field.null:
            holds_value &= ~Q(**{name: empty_value(field)})
        if strategy == Erase.HASH:
            holds_value &= ~Q(**{f"{name}__regex": HASH_PATTERN})
        q |= holds_value
    return q


@dataclass(frozen=True)
class JournalContext:
    """What every journal row of one erasure carries: when, and which run or certificate it belongs to."""

    at: datetime
    sweep_run_id: int | None = None
    certificate_ref: uuid.UUID | None = None
    subject_id: int | None = None


@dataclass(frozen=True)
class Erased:
    count: int
    ids: list[int]


def erase_rows(
    *,
    entry: PersonalData,
    queryset: models.QuerySet,
    plan: Plan,
    journal: JournalContext | None,
    want_ids: bool = False,
) -> Erased:
    """Erase the records of `queryset` that still hold something, journal them, and return the count.

    `queryset` must be a plain filter on the entry's model (the caller's window, expiry and hold filters).
    Runs inside the caller's transaction. Ids come back only when `want_ids` (subject erasures).
    `journal=None` only for `replay_erasures`, which re-applies rows the journal already lists.
    """
    if entry.append_only:
        raise ValueError(f"{entry.label} is an append-only ledger: it is erased by key destruction only.")
    queryset = queryset.filter(pending_q(entry.model, plan))
    if plan.deletes:
        return _delete(entry, queryset, journal, want_ids)
    return _update(entry, queryset, plan, journal, want_ids)


def erase_rows_together(
    parts: list[tuple[PersonalData, Plan, models.QuerySet]], journal: JournalContext
) -> list[Erased]:
    """`erase_rows` (journaled, with ids) for several entries at once; one `Erased` per part, in order.

    On PostgreSQL in two statements, however many entries: one locks the rows whose values get a keyed
    hash (computed here) and reads those values; one WITH then runs, per entry, the DELETE or UPDATE
    ... RETURNING and its journal INSERT as data-modifying CTEs. A subject erasure pays two round trips
    instead of one to four per registered model. Other parts (field-level DELETE strategies, another
    database than the first part's) and other databases go through `erase_rows`.
    """
    results: dict[int, Erased] = {}
    db = parts[0][2].db if parts else None
    together = [
        (n, *parts[n]) for n in range(len(parts)) if parts[n][2].db == db and _fits_together(*parts[n])
    ]
    if together:
        hashed_rows = _lock_hashed_rows([part for part in together if _hashed(part[2])])
        results.update(_erase_in_one_statement(together, journal, hashed_rows))
    for n, (entry, plan, queryset) in enumerate(parts):
        if n not in results:
            results[n] = erase_rows(entry=entry, queryset=queryset, plan=plan, journal=journal, want_ids=True)
    return [results[n] for n in range(len(parts))]


def _fits_together(entry: PersonalData, plan: Plan, queryset: models.QuerySet) -> bool:
    if entry.append_only or connections[queryset.db].vendor != "postgresql":
        return False
    if plan.deletes:
        return True
    writes = (Erase.NULL, Erase.SHRED, Erase.HASH)
    return bool(plan.strategies) and all(s in writes for s in plan.strategies.values())


def _hashed(plan: Plan) -> list[str]:
    return [name for name, strategy in plan.strategies.items() if strategy == Erase.HASH]


def _constants(model: type[models.Model], plan: Plan) -> dict[str, Any]:
    return {
        name: ("" if strategy == Erase.SHRED else empty_value(model._meta.get_field(name)))
        for name, strategy in plan.strategies.items()
        if strategy in (Erase.NULL, Erase.SHRED)
    }


def _lock_hashed_rows(parts: list[tuple[int, PersonalData, Plan, models.QuerySet]]) -> dict[int, list[tuple]]:
    """The pending rows (pk, values to hash) of every part with a keyed hash, locked, in one statement."""
    rows: dict[int, list[tuple]] = {n: [] for n, *_ in parts}
    ctes, selects, params = [], [], []
    for n, entry, plan, queryset in parts:
        hashed = _hashed(plan)
        pending = queryset.filter(pending_q(entry.model, plan)).order_by("pk").select_for_update()
        pending = pending.values_list("pk", *hashed)
        try:
            select_sql, select_params = pending.query.get_compiler(queryset.db).as_sql()
        except EmptyResultSet:
            continue
        names = [f"c{k}" for k in range(len(hashed) + 1)]
        ctes.append(f"h{n} ({', '.join(names)}) AS ({select_sql})")
        selects.append(f"SELECT {n}, c0, ARRAY[{', '.join(f'{c}::text' for c in names[1:])}] FROM h{n}")
        params.extend(select_params)
    if not ctes:
        return rows
    with connections[parts[0][3].db].cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}", params)
        for n, pk, values in cursor.fetchall():
            rows[n].append((pk, *values))
    return rows


def _modify_sql(entry: PersonalData, plan: Plan, queryset: models.QuerySet, rows: list[tuple] | None):
    """The DELETE, or the UPDATE writing the plan's constants and keyed hashes, of the pending rows."""
    queryset = queryset.filter(pending_q(entry.model, plan))
    if plan.deletes:
        return _delete_sql(queryset)
    if _hashed(plan):
        if not rows:
            raise EmptyResultSet
        return _hashed_update_sql(entry, queryset.db, _constants(entry.model, plan), _hashed(plan), rows)
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    meta = entry.model._meta
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    sets, params = [], []
    for name, value in _constants(entry.model, plan).items():
        field = meta.get_field(name)
        sets.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    select_sql, select_params = queryset.order_by().values("pk").query.get_compiler(queryset.db).as_sql()
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {table}.{pk} IN ({select_sql})", [
        *params,
        *select_params,
    ]


def _delete_sql(queryset: models.QuerySet) -> tuple[str, list[Any]]:
    """A plain DELETE of the queryset's rows (raises EmptyResultSet when it can match nothing)."""
    query = queryset.query.clone()
    query.__class__ = sql.DeleteQuery
    delete_sql, params = query.get_compiler(queryset.db).as_sql()
    return delete_sql, list(params)


def _erase_in_one_statement(
    parts: list[tuple[int, PersonalData, Plan, models.QuerySet]],
    journal: JournalContext,
    hashed_rows: dict[int, list[tuple]],
) -> dict[int, Erased]:
    connection = connections[parts[0][3].db]
    qn = connection.ops.quote_name
    journal_table = qn(ErasureJournal._meta.db_table)
    columns = ", ".join(qn(c) for c in _journal_columns())
    results = {n: Erased(0, []) for n, *_ in parts}
    ctes, params, selects, labels = [], [], [], {}
    for n, entry, plan, queryset in parts:
        try:
            modify_sql, modify_params = _modify_sql(entry, plan, queryset, hashed_rows.get(n))
        except EmptyResultSet:
            continue
        meta = entry.model._meta
        ctes.append(f"m{n} AS ({modify_sql} RETURNING {qn(meta.db_table)}.{qn(meta.pk.column)} AS pk)")
        ctes.append(
            f"j{n} AS (INSERT INTO {journal_table} ({columns}) SELECT %s, %s, %s, array_agg(pk ORDER BY pk), "
            f"count(*), %s, %s, %s FROM m{n} HAVING count(*) > 0 RETURNING {qn('record_pks')})"
        )
        params.extend(modify_params)
        params.extend([journal.at, entry.label, plan.method, journal.subject_id])
        params.extend([journal.sweep_run_id, journal.certificate_ref])
        selects.append(f"SELECT {n}, {qn('record_pks')} FROM j{n}")
        labels[n] = (entry.label, plan.method)
    if not ctes:
        return results
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}", params)
        rows = cursor.fetchall()
    for n, ids in rows:
        ids = sorted(ids)
        mirror.record(_mirror_line(*labels[n], ids, journal))
        results[n] = Erased(len(ids), ids)
    return results


def _journal_columns() -> list[str]:
    meta = ErasureJournal._meta
    names = [
        "at",
        "model_label",
        "method",
        "record_pks",
        "record_count",
        "subject_id",
        "sweep_run",
        "certificate_ref",
    ]
    return [meta.get_field(n).column for n in names]


def _delete(
    entry: PersonalData, queryset: models.QuerySet, journal: JournalContext | None, want_ids: bool
) -> Erased:
    connection = connections[queryset.db]
    if journal is None:
        return Erased(queryset._raw_delete(queryset.db), [])
    if connection.vendor != "postgresql":
        ids = list(queryset.values_list("pk", flat=True))
        if not ids:
            return Erased(0, [])
        queryset._raw_delete(queryset.db)
        write_journal(entry.label, ErasureJournal.Method.DELETE, ids, journal)
        return Erased(len(ids), ids if want_ids else [])
    mirrored = mirror.mirror_dir() is not None
    try:
        delete_sql, delete_params = _delete_sql(queryset)
    except EmptyResultSet:
        return Erased(0, [])
    qn = connection.ops.quote_name
    pk = qn(entry.model._meta.pk.column)
    columns = ", ".join(qn(c) for c in _journal_columns())
    statement = (
        f"WITH d AS ({delete_sql} RETURNING {pk}) "
        f"INSERT INTO {qn(ErasureJournal._meta.db_table)} ({columns}) "
        f"SELECT %s, %s, %s, array_agg({pk}), count(*), %s, %s, %s FROM d HAVING count(*) > 0 "
        f"RETURNING {qn('record_count')}, {qn('record_pks') if want_ids or mirrored else 'NULL'}"
    )
    params = (
        *delete_params,
        journal.at,
        entry.label,
        ErasureJournal.Method.DELETE.value,
        journal.subject_id,
        journal.sweep_run_id,
        journal.certificate_ref,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return Erased(0, [])
    if mirrored:
        mirror.record(_mirror_line(entry.label, ErasureJournal.Method.DELETE, row[1], journal))
    return Erased(row[0], sorted(row[1]) if want_ids else [])


def _update(
    entry: PersonalData, queryset: models.QuerySet, plan: Plan, journal: JournalContext | None, want_ids: bool
) -> Erased:
    model = entry.model
    hashed = [n for n, s in plan.strategies.items() if s == Erase.HASH]
    constant = {
        name: ("" if strategy == Erase.SHRED else empty_value(model._meta.get_field(name)))
        for name, strategy in plan.strategies.items()
        if strategy in (Erase.NULL, Erase.SHRED)
    }
    rows = list(queryset.order_by("pk").select_for_update().values_list("pk", *hashed))
    if not rows:
        return Erased(0, [])
    ids = [r[0] for r in rows]
    manager = model._default_manager
    if hashed and connections[queryset.db].vendor == "postgresql":
        _update_hashed_postgres(entry, queryset.db, constant, hashed, rows)
        if journal is not None:
            write_journal(entry.label, plan.method, ids, journal)
        return Erased(len(ids), ids if want_ids else [])
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        if constant:
            manager.filter(pk__in=chunk).update(**constant)
    if hashed:
        objs = []
        for row in rows:
            values = {}
            for name, value in zip(hashed, row[1:], strict=True):
                values[name] = value if not value or _looks_hashed(value) else keyed_hash(value)
            objs.append(model(pk=row[0], **values))
        manager.bulk_update(objs, hashed, batch_size=_CHUNK)
    if journal is not None:
        write_journal(entry.label, plan.method, ids, journal)
    return Erased(len(ids), ids if want_ids else [])


def _update_hashed_postgres(
    entry: PersonalData, db: str, constant: dict[str, Any], hashed: list[str], rows: list[tuple]
) -> None:
    """The constants and the keyed hashes in one UPDATE per chunk (FROM unnest of ids and hashes), where
    the portable path needs an UPDATE for the constants and a CASE-per-row bulk_update for the hashes."""
    with connections[db].cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            cursor.execute(*_hashed_update_sql(entry, db, constant, hashed, rows[start : start + _CHUNK]))


def _hashed_update_sql(
    entry: PersonalData, db: str, constant: dict[str, Any], hashed: list[str], rows: list[tuple]
) -> tuple[str, list[Any]]:
    """UPDATE rows (pk, values to hash): the constants, and each value's keyed hash unless it is one."""
    model = entry.model
    connection = connections[db]
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    sets, params = [], []
    for name, value in constant.items():
        field = model._meta.get_field(name)
        sets.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    sets.extend(f"{qn(model._meta.get_field(name).column)} = v.h{k}" for k, name in enumerate(hashed))
    columns = ", ".join(["pk", *(f"h{k}" for k in range(len(hashed)))])
    arrays = ", ".join(["%s::bigint[]", *(["%s::text[]"] * len(hashed))])
    params.append([row[0] for row in rows])
    for column in list(zip(*rows, strict=True))[1:]:
        params.append([value if not value or _looks_hashed(value) else keyed_hash(value) for value in column])
    statement = (
        f"UPDATE {table} SET {', '.join(sets)} FROM unnest({arrays}) AS v({columns}) "
        f"WHERE {table}.{pk} = v.pk"
    )
    return statement, params


def _looks_hashed(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _mirror_line(label: str, method: str, ids: list[int], journal: JournalContext) -> dict:
    return mirror.entry(
        at=journal.at,
        model_label=label,
        method=method,
        record_pks=ids,
        subject_id=journal.subject_id,
        certificate_ref=journal.certificate_ref,
        sweep_run_id=journal.sweep_run_id,
    )


def _journal_row(label: str, method: str, ids: list[int], journal: JournalContext) -> ErasureJournal:
    return ErasureJournal(
        at=journal.at,
        model_label=label,
        method=method,
        record_pks=ids,
        record_count=len(ids),
        subject_id=journal.subject_id,
        sweep_run_id=journal.sweep_run_id,
        certificate_ref=journal.certificate_ref,
    )


def write_journal(label: str, method: str, ids: Iterable[int], journal: JournalContext) -> ErasureJournal:
    ids = list(ids)
    mirror.record(_mirror_line(label, method, ids, journal))
    row = _journal_row(label, method, ids, journal)
    row.save(force_insert=True)
    return row


def write_journal_rows(
    lines: list[tuple[str, str, list[int]]],
    journal: JournalContext,
    *,
    with_statement: tuple[str, list] | None = None,
) -> None:
    """Several journal entries (model label, method, ids) of one erasure in one INSERT.

    `with_statement` (PostgreSQL: a data-modifying statement, e.g. an UPDATE, and its parameters) runs in
    the same round trip, as a CTE of the INSERT; elsewhere it runs first, on its own.
    """
    for label, method, ids in lines:
        mirror.record(_mirror_line(label, method, ids, journal))
    connection = connections[ErasureJournal.objects.db]
    if with_statement is not None and (connection.vendor != "postgresql" or not lines):
        with connection.cursor() as cursor:
            cursor.execute(*with_statement)
        with_statement = None
    if not lines:
        return
    if with_statement is None:
        ErasureJournal.objects.bulk_create(
            _journal_row(label, method, ids, journal) for label, method, ids in lines
        )
        return
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in _journal_columns())
    values = ", ".join(["(%s, %s, %s, %s::bigint[], %s, %s, %s, %s)"] * len(lines))
    params = list(with_statement[1])
    for label, method, ids in lines:
        params += [journal.at, label, method, ids, len(ids), journal.subject_id]
        params += [journal.sweep_run_id, journal.certificate_ref]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH w AS ({with_statement[0]}) "
            f"INSERT INTO {qn(ErasureJournal._meta.db_table)} ({columns}) VALUES {values}",
            params,
        )


def erasure_order() -> list[PersonalData]:
    """Registry entries, children before parents: a model pointing at another registered model first.

    Raw deletes skip the Collector, so a row must go before the rows it references; the subject's own
    row (which is anonymised, never deleted) comes last.
    """
    entries = list(registry)
    models_ = {e.model for e in entries}
    refs = {
        e.model: {
            f.related_model
            for f in e.model._meta.concrete_fields
            if f.is_relation and f.related_model in models_ and f.related_model is not e.model
        }
        for e in entries
    }
    ordered: list[PersonalData] = []
    placed: set[type[models.Model]] = set()
    remaining = list(entries)
    while remaining:
        # An entry may go once nothing still waiting points at it.
        for entry in remaining:
            if not any(entry.model in refs[o.model] for o in remaining if o is not entry):
                ordered.append(entry)
                placed.add(entry.model)
                remaining.remove(entry)
                break
        else:  # a cycle: keep registry order for the rest
            ordered.extend(remaining)
            break
    return ordered
