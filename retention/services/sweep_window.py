"""One sweep window in one statement: the erasure, its journal row, the holds and open-request checks,
and the batch's cursor and counters, in a single round trip (issue 19).

A window used to cost five statements in a transaction (read the holds, read the protected subjects,
DELETE ... RETURNING into the journal, advance the cursor, commit). The bookkeeping now rides in the
erasure statement itself, on PostgreSQL for schedules that delete rows:

- holds are exact: the DELETE keeps every row an active hold covers (NOT EXISTS against the holds table,
  evaluated in the same statement, so a hold committed before the window starts is honoured by it);
- the rows kept (held, or of a subject with an open access case) are counted, and held rows listed with
  their hold, by scans that PostgreSQL skips outright (a one-time filter) when no such hold or case exists;
- the cursor moves only from the value this worker read: the DELETE runs only while the batch is pending
  at that cursor, and a worker that lost the race counts nothing it did not do;
- the batch's `finished_at` is stamped when its last window's erasure has run (clock_timestamp() read
  after the journal row is written), not when that statement started: the time between the last batch
  and the run's certificate is the closing work alone.

Anonymising schedules (the keyed hash is computed in Python) and other databases keep the per-statement
path of `sweeps.sweep_window`.

The statement is a server-side prepared statement (PREPARE once per connection, then EXECUTE per window):
every parameter, the window's bounds and the batch included, is bound at EXECUTE, so all the windows of
a run (every batch of a target, on a worker whose connection lives on, see privacyops/celery_fixup.py)
run one statement, parsed and analysed once instead of at each window.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from django.db import connections, models
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Value, sql

from core import prepared

from .. import mirror
from ..erasure import pending_q, plan_for
from ..expiry import expired_q
from ..hooks import sweep_protected_subject_sources
from ..models import ErasureJournal, LegalHold, SweepBatch, SweepRun
from ..selectors import Target, active_holds
from .common import KEPT_LIST_LIMIT


@dataclass(frozen=True)
class FoldedWindow:
    """What one folded window did, and where the batch stands after it."""

    erased: int
    kept: int
    open_request: int
    cursor: int
    status: str


def window_folds(target: Target) -> bool:
    """Whether a target's windows can run as one statement (PostgreSQL, rows deleted)."""
    connection = connections[target.entry.model._default_manager.db]
    return connection.vendor == "postgresql" and plan_for(target.entry, target.schedule.action).deletes


def _compiled(queryset: models.QuerySet) -> tuple[str, tuple]:
    sql_, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql_, tuple(params)


def _compiled_delete(queryset: models.QuerySet) -> tuple[str, tuple]:
    query = queryset.query.clone()
    query.__class__ = sql.DeleteQuery
    sql_, params = query.get_compiler(queryset.db).as_sql()
    return sql_, tuple(params)


def _protected_q(lookup: str) -> tuple[Q | None, Q | None, bool]:
    """(rows of a protected subject, "some subject is protected", whether the statement can be reused)
    from the providers' querysets (subqueries, read by each statement) or lists (baked in: not reusable)."""
    rows, gates, ungated = Q(pk__in=[]), Q(pk__in=[]), False
    found = False
    for source in sweep_protected_subject_sources():
        if isinstance(source, models.QuerySet):
            rows |= Q(**{f"{lookup}__in": source})
            gates |= Q(Exists(source))
            found = True
        else:
            ids = [int(i) for i in source]
            if ids:
                rows |= Q(**{f"{lookup}__in": ids})
                ungated = found = True
    if not found:
        return None, None, True
    return rows, (Q() if ungated else gates), not ungated


@dataclass(frozen=True)
class _Parts:
    """The window's compiled pieces: the DELETE, the held rows (pk, hold pk), the open-request rows."""

    delete: tuple[str, tuple]
    held: tuple[str, tuple]
    open_request: tuple[str, tuple] | None
    reusable: bool = True


def _parts(target: Target, run: SweepRun, *, batch_id: int, lo: int, hi: int) -> _Parts:
    entry, schedule = target.entry, target.schedule
    plan = plan_for(entry, schedule.action)
    lookup = entry.subject_lookup
    # The cursor guard: nothing is touched unless the batch is still pending at the cursor we read.
    ours = Exists(SweepBatch.objects.filter(pk=batch_id, status=SweepBatch.Status.PENDING, cursor=lo))
    # The anchor through a no-op (+ 0 s): a window is a primary-key range scan, and a bare anchor let the
    # planner AND the pk range with a bitmap of every expired row of the table (half the table per window).
    base = (
        entry.all()
        .alias(
            sweep_anchor=ExpressionWrapper(
                F(target.anchor_field) + Value(timedelta(0)), output_field=DateTimeField()
            )
        )
        .filter(pk__gte=lo, pk__lt=hi)
        .filter(target.scope_q())
        .filter(expired_q("sweep_anchor", schedule.period, run.as_of))
        .filter(pending_q(entry.model, plan))
        .filter(ours)
        .order_by()
    )
    holds = active_holds(at=run.as_of).filter(Q(category_id=schedule.category_id) | Q(category__isnull=True))
    covering = holds.filter(Q(subject__isnull=True) | Q(subject_id=OuterRef(lookup)))
    # A category-wide hold first, then the earliest placed: the hold `holds_for_category` would name.
    first_hold = covering.order_by(F("subject_id").asc(nulls_first=True), "placed_at", "pk").values("pk")[:1]
    held = (
        base.filter(Exists(holds))  # no active hold on the category: PostgreSQL skips this scan
        .filter(Exists(covering))
        .annotate(hold_pk=Subquery(first_hold))
        .values_list("pk", "hold_pk")
    )
    # Erasable = no covering hold, evaluated without a join: no category-wide hold (read once per
    # statement, a one-time filter) and the row's subject not among the subject holds' (non-null) ids,
    # hashed once per statement; a row without a subject is covered by category-wide holds only, as in
    # NOT EXISTS. The anti-join on the OR'ed condition cost ~2.5 ms per 50,000-row window with no hold at
    # all, and grew with the number of holds (a nested loop: the OR rules out a hash join).
    # Each per-row exclusion is gated as well: "no subject hold at all" (or "no protected subject at all")
    # is read once per statement, and PostgreSQL answers the OR from it without probing the hashed id set
    # for each of the window's rows (~40% of the id range scan's time when nothing is held or protected).
    # Where some hold or case exists, the second arm decides, as before.
    wide = holds.filter(subject__isnull=True)
    subject_holds = holds.filter(subject__isnull=False)
    erasable = base.filter(~Exists(wide)).filter(
        Q(~Exists(subject_holds)) | ~Q(**{f"{lookup}__in": subject_holds.values("subject_id")})
    )
    protected, gate, reusable = _protected_q(lookup)
    open_request = None
    if protected is not None:
        open_request = _compiled(erasable.filter(gate).filter(protected).values_list("pk"))
        erasable = erasable.filter(~gate | ~protected) if gate else erasable.exclude(protected)
    return _Parts(_compiled_delete(erasable), _compiled(held), open_request, reusable)


def _statement(target: Target, parts: _Parts, *, mirrored: bool) -> str:
    connection = connections[target.entry.model._default_manager.db]
    qn = connection.ops.quote_name
    journal, batch, hold = ErasureJournal._meta, SweepBatch._meta, LegalHold._meta
    pk = qn(target.entry.model._meta.pk.column)
    columns = ", ".join(
        qn(journal.get_field(n).column)
        for n in ("at", "model_label", "method", "record_pks", "record_count", "sweep_run", "subject_id")
    )
    won = "b.status = %(pending)s AND b.cursor = %(lo)s"
    open_request = (
        f"SELECT count(*) AS n FROM ({parts.open_request[0]}) x" if parts.open_request else "SELECT 0 AS n"
    )
    return f"""
WITH d AS ({parts.delete[0]} RETURNING {pk}),
j AS (INSERT INTO {qn(journal.db_table)} ({columns})
      SELECT %(at)s, %(label)s, %(method)s, array_agg({pk}), count(*), %(run)s::bigint, NULL FROM d
      HAVING count(*) > 0
      RETURNING record_count, {"record_pks" if mirrored else "NULL::bigint[]"} AS record_pks),
k (pk, hold_pk) AS ({parts.held[0]}),
o AS ({open_request}),
u AS (UPDATE {qn(batch.db_table)} b SET
    cursor = CASE WHEN {won} THEN %(hi)s ELSE b.cursor END,
    erased = b.erased + (SELECT coalesce(sum(record_count), 0) FROM j),
    kept = b.kept + CASE WHEN {won} THEN (SELECT count(*) FROM k) ELSE 0 END,
    kept_open_request = b.kept_open_request + CASE WHEN {won} THEN (SELECT n FROM o) ELSE 0 END,
    kept_detail = CASE WHEN {won} AND EXISTS (SELECT 1 FROM k) AND jsonb_array_length(b.kept_detail) < %(limit)s
        THEN b.kept_detail || (
            SELECT coalesce(jsonb_agg(jsonb_build_object('model', %(label)s, 'pk', x.pk, 'hold', h.public_id::text,
                   'code', h.exception_code, 'case_reference', h.case_reference) ORDER BY x.pk), '[]'::jsonb)
            FROM (SELECT pk, hold_pk FROM k ORDER BY pk LIMIT %(limit)s - jsonb_array_length(b.kept_detail)) x
            JOIN {qn(hold.db_table)} h ON h.{qn(hold.pk.column)} = x.hold_pk)
        ELSE b.kept_detail END,
    duration_ms = b.duration_ms + (SELECT (extract(epoch FROM clock_timestamp() - statement_timestamp())
                                          * 1000)::int FROM (SELECT count(*) FROM j) done),
    status = CASE WHEN {won} AND %(hi)s >= b.hi THEN %(done)s ELSE b.status END,
    finished_at = CASE WHEN {won} AND %(hi)s >= b.hi
        THEN (SELECT clock_timestamp() FROM (SELECT count(*) FROM j) done) ELSE b.finished_at END
  WHERE b.id = %(batch)s
  RETURNING b.cursor, b.status)
SELECT u.cursor, u.status, (SELECT coalesce(sum(record_count), 0) FROM j), (SELECT count(*) FROM k),
       (SELECT n FROM o), (SELECT record_pks FROM j) FROM u"""


# The window's bounds and its batch are compiled as these stand-ins (inside any integer primary key's
# range, so Django keeps the lookups) and bound by name, so a run compiles a target's statement once for
# all the windows of all its batches.
LO, HI, BATCH = -2_000_000_017, -2_000_000_003, -2_000_000_011
_STAND_INS = {LO: "lo", HI: "hi", BATCH: "batch"}


def _named(sql_: str, params: tuple, prefix: str, into: dict) -> str:
    """A compiled piece's positional %s as named parameters, so the pieces compose in any order."""
    pieces = sql_.replace("%%", "\0").split("%s")
    assert len(pieces) == len(params) + 1
    out = [pieces[0]]
    for i, (param, piece) in enumerate(zip(params, pieces[1:], strict=True)):
        if isinstance(param, int) and param in _STAND_INS:
            name = _STAND_INS[param]
        else:
            name = f"{prefix}{i}"
            into[name] = param
        out.append(f"%({name})s{piece}")
    return "".join(out).replace("\0", "%%")


# What a window statement is built from -> (statement, its fixed parameters, reusable): the targets of
# the run a worker is on (a new run's first statement drops the earlier runs').
_statements: dict[tuple, tuple[str, dict, bool]] = {}


def _statement_key(target: Target, run: SweepRun, *, mirrored: bool) -> tuple:
    """Everything `_parts` and `_statement` read: the run (its id and clock), the schedule (its id and
    updated_at, and the fields used, in case a bulk update left updated_at alone), the model, the more
    specific schedules' exclusions (other schedules' edits change those, not this one's updated_at)."""
    schedule = target.schedule
    return (run.pk, run.as_of, schedule.pk, schedule.updated_at, schedule.action, schedule.period,
            schedule.category_id, target.entry.label, target.anchor_field, repr(target.scope_q()),
            mirrored)  # fmt: skip


def _prepared(target: Target, run: SweepRun, *, mirrored: bool) -> tuple[str, dict, bool]:
    """The target's window statement for this run, built from the ORM once for every window of every
    batch (Python's query building costs ~13 ms, as much as a window's DELETE on a busy machine) unless a
    protected-subjects provider returned a plain list. Keyed on the schedule's updated_at as well: an
    edited schedule builds afresh (one switched off never gets here, see sweeps.batch_target). Holds and
    open cases are read by the statement itself, so the cached text honours a hold placed mid-run."""
    key = _statement_key(target, run, mirrored=mirrored)
    cached = _statements.get(key)
    if cached is not None:
        return cached
    parts = _parts(target, run, batch_id=BATCH, lo=LO, hi=HI)
    params: dict = {}
    named = _Parts(
        (_named(*parts.delete, "d", params), ()),
        (_named(*parts.held, "k", params), ()),
        (_named(*parts.open_request, "o", params), ()) if parts.open_request else None,
    )
    params.update(
        label=target.entry.label, method=ErasureJournal.Method.DELETE.value, run=run.pk,
        pending=SweepBatch.Status.PENDING.value, done=SweepBatch.Status.DONE.value,
        limit=KEPT_LIST_LIMIT,
    )  # fmt: skip
    prepared = (_statement(target, named, mirrored=mirrored), params, parts.reusable)
    if parts.reusable:
        if len(_statements) >= 64:
            _statements.clear()
        for stale in [k for k in list(_statements) if k[:2] != key[:2]]:
            _statements.pop(stale, None)
        _statements[key] = prepared
    return prepared


# PostgreSQL types of the parameters a window binds; a parameter of any other type (None, a list) makes
# the statement run unprepared, as before. Integers are inferred from where they stand (a primary key is
# bigint, make_interval's months an integer), as the literals of an unprepared statement are.
_PARAMETER_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"), (int, "unknown"), (float, "double precision"), (Decimal, "numeric"), (str, "text"),
    (datetime, "timestamptz"), (date, "date"), (timedelta, "interval"), (UUID, "uuid"),
)  # fmt: skip
_NAMED = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class ServerStatement:
    """A window statement as PREPARE text: its name, and the order its parameters are bound in."""

    name: str
    prepare: str
    order: tuple[str, ...]


def _pg_type(value: object) -> str | None:
    return next((name for kind, name in _PARAMETER_TYPES if isinstance(value, kind)), None)


def server_statement(statement: str, params: dict) -> ServerStatement | None:
    """The PREPARE form of a window statement (named %(x)s parameters become $n, typed from `params`, a
    sample of the values), or None when a parameter has no fixed type."""
    order = _parameter_order(statement)
    types = tuple(_pg_type(params[name]) for name in order)
    if None in types:
        return None
    return _server_form(statement, order, types)


# Every window of a run binds the same statement with values of the same types: its parameter order and
# PREPARE text are worked out once (the regular expressions over ~10 KB of SQL cost ~1 ms per window).
@lru_cache(maxsize=64)
def _parameter_order(statement: str) -> tuple[str, ...]:
    order: list[str] = []
    for name in _NAMED.findall(statement):
        if name not in order:
            order.append(name)
    return tuple(order)


@lru_cache(maxsize=64)
def _server_form(statement: str, order: tuple[str, ...], types: tuple[str, ...]) -> ServerStatement:
    body = _NAMED.sub(lambda m: f"${order.index(m.group(1)) + 1}", statement).replace("%%", "%")
    digest = hashlib.sha1(f"{list(types)}{body}".encode(), usedforsecurity=False).hexdigest()[:20]
    name = f"retention_window_{digest}"
    return ServerStatement(name, f"PREPARE {name} ({', '.join(types)}) AS {body}", order)


def _execute(connection, statement: str, params: dict, *, reusable: bool) -> tuple:
    """Run a window statement, as a prepared statement when it is reused (a provider's plain list of
    protected subjects is baked into the text, which would PREPARE a new statement per window) and its
    parameters allow. The SET/EXECUTE/RESET message needs Django's default client-side binding (with
    OPTIONS server_side_binding a message holds one statement): otherwise the statement runs as is."""
    client_side = not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    server = server_statement(statement, params) if reusable and client_side else None
    with connection.cursor() as cursor:
        if server is None:
            cursor.execute(statement, params)
            return cursor.fetchone()
        # A window runs in autocommit: if the session lost the statement (DEALLOCATE ALL, a pooler's
        # DISCARD ALL), nothing was done and it runs again at once, prepared; inside a caller's
        # transaction (aborted then) the batch's retry prepares it.
        return prepared.run_prepared(
            connection.connection,
            server.name,
            lambda prepare: _execute_prepared(cursor, server, params, prepare=prepare),
            in_transaction=lambda: connection.in_atomic_block or not connection.get_autocommit(),
        )


def _execute_prepared(cursor, server: ServerStatement, params: dict, *, prepare: bool) -> tuple:
    if prepare:
        cursor.execute(server.prepare)  # not transactional: it outlives a rollback, as the registry does
    placeholders = ", ".join(["%s"] * len(server.order))
    # One message, one implicit transaction: the generic plan, made at the first EXECUTE, serves every
    # window (the plan doesn't depend on the bounds: a primary-key range scan, holds and open cases read
    # once per statement); RESET leaves the session as it was.
    cursor.execute(
        f"SET plan_cache_mode = force_generic_plan; EXECUTE {server.name} ({placeholders}); RESET plan_cache_mode",
        [params[n] for n in server.order],
    )
    cursor.nextset()  # the EXECUTE's row, after the SET's empty result
    return cursor.fetchone()


def sweep_window_folded(
    target: Target, run: SweepRun, batch: SweepBatch, *, lo: int, hi: int, now: datetime
) -> FoldedWindow:
    """Erase one id window of a records batch and do its bookkeeping in one statement (autocommit).

    Returns where the batch stands: a worker that lost the race for this window erased nothing and
    continues from the cursor the winner left.
    """
    mirrored = mirror.mirror_dir() is not None
    statement, fixed, reusable = _prepared(target, run, mirrored=mirrored)
    connection = connections[target.entry.model._default_manager.db]
    params = {**fixed, "lo": lo, "hi": hi, "batch": batch.pk, "at": now}
    cursor_, status, erased, kept, open_request, ids = _execute(
        connection, statement, params, reusable=reusable
    )
    if mirrored and ids:
        mirror.record(
            mirror.entry(at=now, model_label=target.entry.label, method=ErasureJournal.Method.DELETE,
                         record_pks=ids, subject_id=None, certificate_ref=None, sweep_run_id=run.pk)
        )  # fmt: skip
    return FoldedWindow(int(erased), int(kept), int(open_request), int(cursor_), status)
