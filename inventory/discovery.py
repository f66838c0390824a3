"""A subject's records in every registered model as ONE PostgreSQL statement (issue 19).

Discovery asks every registered model for the rows of one subject. One query per model costs one
round trip (or one pipelined statement) each, and the client-side cost of eighteen statements (cursor,
execute, fetch, per-model plumbing) was more than twice what PostgreSQL needs to answer them. Here the
registry's per-model querysets are compiled once into a single `UNION ALL` whose branches all return

    m (branch index), o (row number in the model's own ordering), r = ROW(the queryset's columns)

A ROW is one column whatever the model, so the statement stays as narrow (and as cheap to parse and
plan) as a hand-written union; typed columns padded with NULLs for every other model's fields cost
PostgreSQL three times the planning. PostgreSQL writes each field of the ROW with its type's own output
function, the very text it sends for a plain column; psycopg splits the record and each field is loaded
with the loader the connection has for the column's type, then Django's field converters
(`from_db_value`) run unchanged: the instances are the ones the querysets give. `o` carries each
model's ordering (Meta.ordering, or the `limit` path's newest-first) through the union, which has no
order of its own; the statement ends with `ORDER BY m, o` (outside the union: a branch may have its
own ORDER BY ... LIMIT).

A model whose manager adds joins, annotations or further parameters is left to its queryset; so is any
model whose database is not PostgreSQL (the caller keeps its per-model path for those).
"""

import functools
import hashlib
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from core import prepared

from . import conf
from .registry import PersonalData

# Compiled with this subject id; the statement is then run with the real one (a constant in a
# manager's own filter can't be mistaken for the subject's id).
_PLACEHOLDER_ID = -918_273_645


def _type_oid(db_type: str) -> int | None:
    """The OID of a column type named as Django declares it ("varchar(20)", "timestamp with time zone")."""
    from psycopg.postgres import types

    info = types.get(re.sub(r"\(.*?\)", "", db_type))
    return info.oid if info is not None else None


@dataclass(frozen=True)
class _Branch:
    """One model's part of the statement."""

    entry: PersonalData
    compiler: Any  # keeps the connection alive (the plan cache is keyed by its id) and converts rows
    columns: list[str]  # column SQL in the queryset's select order
    from_sql: str
    where_sql: str  # holds the subject id's one placeholder
    order_sql: str
    limit_sql: str
    converters: dict
    field_names: list[str]
    oids: tuple[int, ...]


@dataclass(frozen=True)
class UnionBranch:
    entry: PersonalData
    compiler: Any
    converters: dict
    field_names: list[str]
    oids: tuple[int, ...]  # each column's type: its loader turns the record's text into the value


@dataclass(frozen=True)
class UnionQuery:
    """The compiled statement of one database.

    Run as a server-side prepared statement (`PREPARE` once per session, then `EXECUTE name(id)`):
    the statement is some 13 kB of SQL over every registered table, and parsing and planning it
    cost PostgreSQL more than running it (PostgreSQL keeps a generic plan after five executions). The first call on a session sends `PREPARE ...; EXECUTE
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
        if conf.discovery_prepared_statements():
            rows, context = self._rows(subject_id)
        else:
            rows, context = self._rows_unprepared(subject_id)
        for index, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            found[index] = _instances(self.branches[index], [row[2] for row in group], context)
        return found

    def _rows_unprepared(self, subject_id: int) -> tuple[list[tuple], Any]:
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, [subject_id] * len(self.branches))
            return cursor.fetchall(), cursor.cursor

    def _rows(self, subject_id: int) -> tuple[list[tuple], Any]:
        connection = connections[self.using]
        connection.ensure_connection()
        return prepared.run_prepared(
            connection.connection,
            self.name,
            lambda prepare: self._execute(connection, subject_id, prepare=prepare),
            in_transaction=lambda: connection.in_atomic_block or not connection.get_autocommit(),
        )

    def _execute(
        self, connection: BaseDatabaseWrapper, subject_id: int, *, prepare: bool
    ) -> tuple[list[tuple], Any]:
        name = self.name
        sql = f"EXECUTE {name}(%s)"
        if prepare:
            sql = f"PREPARE {name} AS {_numbered(self.sql)}; {sql}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [subject_id])
            if prepare:
                cursor.nextset()  # past PREPARE's (empty) result
            return cursor.fetchall(), cursor.cursor  # its loaders (and time zone)


def _numbered(sql: str) -> str:
    """The statement with its subject placeholders as $1 (one parameter), `%%` escapes kept."""
    return re.sub(r"%(.)", lambda m: "$1" if m.group(1) == "s" else m.group(0), sql)


def _instances(branch: UnionBranch, records: list[tuple], context: Any) -> list[models.Model]:
    """Model instances from the records' text fields, through the loaders psycopg would have used."""
    from psycopg.pq import Format

    loaders = context.adapters
    loads = [loaders.get_loader(oid, Format.TEXT)(oid, context).load for oid in branch.oids]
    values = [
        [None if text is None else load(text.encode()) for load, text in zip(loads, record, strict=True)]
        for record in records
    ]
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
    columns, oids = [], []
    for col, (col_sql, col_params), _alias in compiler.select:
        target = getattr(col, "target", None)
        db_type = target.db_type(connection) if target is not None else None
        oid = _type_oid(db_type) if db_type else None
        if col_params or oid is None:
            return None
        columns.append(col_sql)
        oids.append(oid)
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
        oids=tuple(oids),
    )


def _branch_sql(index: int, branch: _Branch) -> str:
    over = f"ORDER BY {branch.order_sql}" if branch.order_sql else ""
    sql = (
        f"SELECT {index} AS m, row_number() OVER ({over}) AS o, ROW({', '.join(branch.columns)}) AS r "
        f"FROM {branch.from_sql} WHERE {branch.where_sql}"
    )
    if branch.limit_sql:
        sql += f" ORDER BY {branch.order_sql} {branch.limit_sql}"
    return f"({sql})"


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
    parts = [_branch_sql(i, branch) for i, branch in enumerate(branches)]
    query = UnionQuery(
        using=branches[0].compiler.using,
        sql=f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS discovery ORDER BY m, o",
        branches=[UnionBranch(b.entry, b.compiler, b.converters, b.field_names, b.oids) for b in branches],
    )
    return query, left
