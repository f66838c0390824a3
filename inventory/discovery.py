"""A subject's records in every registered model as ONE PostgreSQL statement (issue 19).

Discovery asks every registered model for the rows of one subject. One query per model costs one
round trip (or one pipelined statement) each, and the client-side cost of eighteen statements (cursor,
execute, fetch, per-model plumbing) was more than twice what PostgreSQL needs to answer them. Here the
registry's per-model querysets are compiled once into a single `UNION ALL` whose branches share a row
layout of *typed* columns:

    m (branch index), o (row number in the model's own ordering), slot columns ...

Each branch puts its model's columns, exactly as the queryset selects them, into slots of the same
type family and typed NULLs everywhere else, so psycopg loads every value with the same loader as the
model's own query would, and Django's field converters (`from_db_value`) run on them unchanged: the
instances are the ones the querysets give. `o` carries each model's ordering (Meta.ordering, or the
`limit` path's newest-first) through the union, which has no order of its own; the statement ends with
`ORDER BY m, o` (outside the union: a branch may have its own ORDER BY ... LIMIT).

A model whose manager adds joins, annotations or further parameters is left to its queryset; so is any
model whose database is not PostgreSQL (the caller keeps its per-model path for those).
"""

import functools
import hashlib
import itertools
import operator
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import ProgrammingError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from . import conf
from .registry import PersonalData

# Compiled with this subject id; the statement is then run with the real one (a constant in a
# manager's own filter can't be mistaken for the subject's id).
_PLACEHOLDER_ID = -918_273_645

# Column types that load to the same Python type may share a slot: PostgreSQL resolves
# varchar(n) UNION text to text and smallint UNION bigint to bigint without changing a value.
_SLOT_FAMILY = {"text": "text", "smallint": "bigint", "integer": "bigint", "bigint": "bigint"}


def _slot_type(db_type: str) -> str:
    if db_type.startswith("varchar"):
        return "text"
    return _SLOT_FAMILY.get(db_type, db_type)


@dataclass(frozen=True)
class _Branch:
    """One model's part of the statement, before slots are assigned."""

    entry: PersonalData
    compiler: Any  # keeps the connection alive (the plan cache is keyed by its id) and converts rows
    columns: list[tuple[str, str]]  # (column SQL, slot type) in the queryset's select order
    from_sql: str
    where_sql: str  # holds the subject id's one placeholder
    order_sql: str
    limit_sql: str
    converters: dict
    field_names: list[str]


@dataclass(frozen=True)
class UnionBranch:
    entry: PersonalData
    compiler: Any
    converters: dict
    field_names: list[str]
    pick: Callable[[tuple], tuple]  # this model's values, in select order, out of a union row


# Names of the statements each PostgreSQL session has prepared, by psycopg connection (a reconnect
# is a new session with none).
_prepared: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class UnionQuery:
    """The compiled statement of one database.

    Run as a server-side prepared statement (`PREPARE` once per session, then `EXECUTE name(id)`):
    the statement is some 25 kB of SQL over every registered table, and parsing and planning it
    cost PostgreSQL more than running it. The first call on a session sends `PREPARE ...; EXECUTE
    ...` as one string, so it too is a single round trip. DISCOVERY_PREPARED_STATEMENTS=False (behind
    a pooler that hands one session's statements to another) sends the statement itself every time.
    """

    using: str
    sql: str  # the subject id is %s, once per branch
    branches: list[UnionBranch]

    @functools.cached_property
    def name(self) -> str:
        return "privacyops_discovery_" + hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def fetch(self, subject_id: int) -> list[list[models.Model]]:
        """Instances of each branch's model, in the branch's order; one statement, one round trip."""
        found: list[list[models.Model]] = [[] for _ in self.branches]
        rows = (
            self._rows(subject_id)
            if conf.discovery_prepared_statements()
            else self._rows_unprepared(subject_id)
        )
        for index, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            found[index] = _instances(self.branches[index], group)
        return found

    def _rows_unprepared(self, subject_id: int) -> list[tuple]:
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, [subject_id] * len(self.branches))
            return cursor.fetchall()

    def _rows(self, subject_id: int) -> list[tuple]:
        connection = connections[self.using]
        connection.ensure_connection()
        prepared = _prepared.setdefault(connection.connection, set())
        name = self.name
        try:
            return self._execute(connection, subject_id, prepare=name not in prepared, prepared=prepared)
        except ProgrammingError as error:
            # 26000: the session lost the statement (DISCARD ALL, DEALLOCATE, a pooler's other session).
            if getattr(error.__cause__, "sqlstate", None) != "26000":
                raise
            prepared.discard(name)
            if connection.in_atomic_block or not connection.get_autocommit():
                raise  # the transaction is aborted; the next call prepares again
            return self._execute(connection, subject_id, prepare=True, prepared=prepared)

    def _execute(
        self, connection: BaseDatabaseWrapper, subject_id: int, *, prepare: bool, prepared: set[str]
    ) -> list[tuple]:
        name = self.name
        sql = f"EXECUTE {name}(%s)"
        if prepare:
            # Counted as prepared before it runs: a statement outlives a failed transaction, and one
            # that was never made fails the next EXECUTE with 26000, which prepares again.
            prepared.add(name)
            sql = f"PREPARE {name} AS {_numbered(self.sql)}; {sql}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [subject_id])
            if prepare:
                cursor.nextset()  # past PREPARE's (empty) result
            return cursor.fetchall()


def _numbered(sql: str) -> str:
    """The statement with its subject placeholders as $1 (one parameter), `%%` escapes kept."""
    return re.sub(r"%(.)", lambda m: "$1" if m.group(1) == "s" else m.group(0), sql)


def _instances(branch: UnionBranch, rows) -> list[models.Model]:
    values = [branch.pick(row) for row in rows]
    if branch.converters:
        values = branch.compiler.apply_converters(values, branch.converters)
    db, from_db, names = branch.compiler.using, branch.entry.model.from_db, branch.field_names
    return [from_db(db, names, row) for row in values]


def _queryset(entry: PersonalData, limit: int | None) -> models.QuerySet:
    qs = entry.for_subject(_PLACEHOLDER_ID)
    if limit is None:
        return qs
    return qs.order_by(f"-{entry.collected_at}", "-pk")[: limit + 1]


def _is_plain(compiler: Any, params: Sequence) -> bool:
    """True when the queryset is "columns of one table where subject = %s": nothing a union could lose."""
    query = compiler.query
    return (
        list(params) == [_PLACEHOLDER_ID]
        and not compiler.annotation_col_map
        and not (compiler.klass_info or {}).get("related_klass_infos")
        and not query.distinct
        and not query.combinator
        and query.group_by is None
        and not query.extra_select
        and not query.select_for_update
        and not query.low_mark
        and compiler.having is None
        and compiler.qualify is None
    )


def _branch(entry: PersonalData, limit: int | None) -> _Branch | None:
    qs = _queryset(entry, limit)
    compiler = qs.query.get_compiler(using=qs.db)
    connection = compiler.connection
    _sql, params = compiler.as_sql()  # also sets up select, where and ordering
    if not _is_plain(compiler, params):
        return None
    from_parts, from_params = compiler.get_from_clause()
    where_sql, where_params = compiler.compile(compiler.where)
    order_by = compiler.get_order_by()
    if from_params or list(where_params) != [_PLACEHOLDER_ID]:
        return None
    if any(is_ref or order_params for _expr, (_s, order_params, is_ref) in order_by):
        return None
    columns = []
    for col, (col_sql, col_params), _alias in compiler.select:
        target = getattr(col, "target", None)
        db_type = target.cast_db_type(connection) if target is not None else None
        if col_params or not db_type:
            return None
        columns.append((col_sql, _slot_type(db_type)))
    limit_sql = ""
    if query_limit := compiler.query.high_mark:
        limit_sql = connection.ops.limit_offset_sql(0, query_limit)
    return _Branch(
        entry=entry,
        compiler=compiler,
        columns=columns,
        from_sql=" ".join(from_parts),
        where_sql=where_sql,
        order_sql=", ".join(sql for _expr, (sql, _p, _r) in order_by),
        limit_sql=limit_sql,
        converters=compiler.get_converters([col for col, _s, _a in compiler.select]),
        field_names=[col.target.attname for col, _s, _a in compiler.select],
    )


def _slot_layout(branches: list[_Branch]) -> tuple[list[str], list[list[int]]]:
    """Slot types of the union row, and per branch the slot of each of its columns (select order)."""
    slot_types: list[str] = []
    positions: list[list[int]] = []
    for branch in branches:
        used: dict[str, int] = {}  # slots of each type this branch has taken so far
        mine = []
        for _col_sql, slot_type in branch.columns:
            nth = used.get(slot_type, 0)
            used[slot_type] = nth + 1
            same_type = [i for i, t in enumerate(slot_types) if t == slot_type]
            if nth < len(same_type):
                mine.append(same_type[nth])
            else:
                slot_types.append(slot_type)
                mine.append(len(slot_types) - 1)
        positions.append(mine)
    return slot_types, positions


def _branch_sql(index: int, branch: _Branch, slot_types: list[str], mine: list[int]) -> str:
    by_slot = {slot: col_sql for slot, (col_sql, _t) in zip(mine, branch.columns, strict=True)}
    slots = [by_slot.get(slot, f"NULL::{slot_type}") for slot, slot_type in enumerate(slot_types)]
    over = f"ORDER BY {branch.order_sql}" if branch.order_sql else ""
    sql = (
        f"SELECT {index} AS m, row_number() OVER ({over}) AS o, {', '.join(slots)} "
        f"FROM {branch.from_sql} WHERE {branch.where_sql}"
    )
    if branch.limit_sql:
        sql += f" ORDER BY {branch.order_sql} {branch.limit_sql}"
    return f"({sql})"


def _picker(mine: list[int]) -> Callable[[tuple], tuple]:
    columns = [2 + slot for slot in mine]  # after m and o
    if len(columns) == 1:
        return lambda row: (row[columns[0]],)
    return operator.itemgetter(*columns)


def union_query(entries: list[PersonalData], limit: int | None = None) -> tuple[UnionQuery | None, list]:
    """Compile the entries of one PostgreSQL database into one statement.

    Returns the statement (None when no entry fits) and the entries left to their querysets.
    """
    branches, left = [], []
    for entry in entries:
        branch = _branch(entry, limit)
        (branches if branch is not None else left).append(branch or entry)
    if not branches:
        return None, left
    slot_types, positions = _slot_layout(branches)
    parts = [
        _branch_sql(i, b, slot_types, mine)
        for i, (b, mine) in enumerate(zip(branches, positions, strict=True))
    ]
    query = UnionQuery(
        using=branches[0].compiler.using,
        sql=f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS discovery ORDER BY m, o",
        branches=[
            UnionBranch(b.entry, b.compiler, b.converters, b.field_names, _picker(mine))
            for b, mine in zip(branches, positions, strict=True)
        ],
    )
    return query, left
