"""Several querysets' rows in one round trip, each queryset compiled to SQL once per connection.

For the small lookups of a request (a few reference rows), Django's work dwarfs PostgreSQL's: building
a queryset and compiling its SQL cost a millisecond where the database answers in a tenth of that, and
each statement waits for its own round trip. A `Statement` is a queryset written once, with a `Slot`
wherever each call's values go; on PostgreSQL it is compiled on first use (per connection) and `fetch`
sends every bound statement of a database as one string, `SELECT ...; SELECT ...`, reading each result
with `cursor.nextset()`: with Django's default client-side binding that is one round trip (and one
query in Django's log). Rows become instances as the queryset makes them: the fields' converters,
`from_db`, the select_related objects.

Each statement is also prepared once per database session (core.prepared), `EXECUTE name(...)` after
that: for these small lookups PostgreSQL spends more time parsing and planning than running them.
BATCHED_PREPARED_STATEMENTS=False (behind a pooler in transaction mode) sends the statements themselves.

Nothing but SQL text and how to read its rows is kept between calls: every `fetch` reads the database.
On other databases (SQLite in development) the queryset is built with the values and run as usual.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import Expression
from django.db.models.query import get_related_populators

from core import prepared

M = TypeVar("M", bound=models.Model)


class Slot(Expression):
    """Where a call's value goes in a statement's queryset, e.g. `filter(subject_id=Slot("subject_id"))`."""

    def __init__(self, name: str, output_field: models.Field | None = None) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [self]

    def value(self, given: Any) -> Any:
        return given


class ArraySlot(Slot):
    """A list of values for `field__in=ArraySlot("ids", of=field)`: one array parameter whatever its
    length, so the SQL (compiled once) fits every call."""

    def __init__(self, name: str, *, of: models.Field) -> None:
        super().__init__(name)
        self.of = of

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return f"SELECT unnest(%s::{self.of.db_type(connection)}[])", [self]

    def value(self, given: Any) -> Any:
        return list(given)


@dataclass(frozen=True)
class _Compiled:
    """A statement's SQL for one connection, and how to turn its rows into instances."""

    sql: str | None  # None: the queryset can match nothing
    name: str  # its prepared statement's
    body: str  # the SQL with numbered parameters ($1, $2, ...), for PREPARE
    params: tuple[Any, ...]  # constants, and the Slots each call fills
    compiler: Any  # keeps the connection alive (its id() is the cache key) and converts rows
    converters: dict
    model: type[models.Model]
    init_list: list[str]
    fields: slice
    populators: list
    annotations: dict[str, int]

    def bound_params(self, values: dict[str, Any]) -> list[Any]:
        return [p.value(values[p.name]) if isinstance(p, Slot) else p for p in self.params]

    def instances(self, rows: list[tuple]) -> list[models.Model]:
        """What iterating the queryset gives for these rows (django.db.models.query.ModelIterable)."""
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        db, from_db, init_list, fields = self.compiler.using, self.model.from_db, self.init_list, self.fields
        found = []
        for row in rows:
            obj = from_db(db, init_list, row[fields])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found


def _compile(queryset: models.QuerySet) -> _Compiled:
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        sql, params = None, ()
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _Compiled(
        sql=sql,
        name="privacyops_batch_" + hashlib.sha256((sql or "").encode()).hexdigest()[:16],
        body=_numbered(sql or ""),
        params=tuple(params),
        compiler=compiler,
        converters=compiler.get_converters([s[0] for s in select[: compiler.col_count]]),
        model=klass_info["model"],
        init_list=[s[0].target.attname for s in select[start:end]],
        fields=slice(start, end),
        populators=get_related_populators(klass_info, select, compiler.using),
        annotations=dict(compiler.annotation_col_map or {}),
    )


def _numbered(sql: str) -> str:
    """The SQL with its %s placeholders as $1, $2, ... (`%%` escapes kept: the string is still formatted)."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%(.)", lambda m: f"${next(count)}" if m.group(1) == "s" else m.group(0), sql)


class Statement(Generic[M]):
    """A queryset of model instances built by `build(**slots)`: on PostgreSQL compiled once per
    connection, then only run.

    `build` must give the same SQL for any values (the slots stand for them); it is called with the
    values themselves where the statement is not compiled (other databases).
    """

    def __init__(self, build: Callable[..., models.QuerySet[M]], *slots: Slot) -> None:
        self._build = build
        self._slots = {slot.name: slot for slot in slots}
        self._template: models.QuerySet[M] | None = None
        self._compiled: dict[int, _Compiled] = {}

    def bind(self, **values: Any) -> Bound[M]:
        if values.keys() != self._slots.keys():
            raise TypeError(f"expected values for {sorted(self._slots)}, got {sorted(values)}")
        return Bound(self, values)

    def queryset(self, values: dict[str, Any]) -> models.QuerySet[M]:
        return self._build(**values)

    def compiled(self) -> _Compiled | None:
        """The SQL for this thread's connection; None where the queryset is run as it is."""
        if self._template is None:
            self._template = self._build(**self._slots)
        connection = connections[self._template.db]
        if connection.vendor != "postgresql":
            return None
        found = self._compiled.get(id(connection))
        if found is None:
            found = self._compiled[id(connection)] = _compile(self._template)
        return found


@dataclass(frozen=True)
class Bound(Generic[M]):
    """A statement with this call's values, for `fetch`."""

    statement: Statement[M]
    values: dict[str, Any]


def fetch(*bound: Bound[Any]) -> list[list[Any]]:
    """Each bound statement's instances, in order: one round trip per PostgreSQL database."""
    found: list[list[Any]] = [[] for _ in bound]
    by_db: dict[str, list[tuple[int, _Compiled, list[Any]]]] = {}
    for index, one in enumerate(bound):
        compiled = one.statement.compiled()
        if compiled is None:
            found[index] = list(one.statement.queryset(one.values))
        elif compiled.sql is not None:
            todo = by_db.setdefault(compiled.compiler.using, [])
            todo.append((index, compiled, compiled.bound_params(one.values)))
    for alias, todo in by_db.items():
        results = _run(alias, [(compiled, params) for _i, compiled, params in todo])
        for (index, compiled, _params), rows in zip(todo, results, strict=True):
            found[index] = compiled.instances(rows)
    return found


def prepared_statements() -> bool:
    """BATCHED_PREPARED_STATEMENTS: prepare each statement once per database session (default on).

    Turn off behind a pooler in transaction mode (PgBouncer before 1.21), which may run a statement on
    a session that never prepared it.
    """
    return bool(getattr(settings, "BATCHED_PREPARED_STATEMENTS", True))


def _run(alias: str, statements: list[tuple[_Compiled, list[Any]]]) -> list[list[tuple]]:
    """The statements' rows: one string with client-side binding (Django's default), else (bound
    server-side, where a string holds one statement) one execute each."""
    connection = connections[alias]
    connection.ensure_connection()
    client_side = _binds_client_side(connection)
    if client_side and prepared_statements():
        return prepared.run_prepared_all(
            connection.connection,
            [compiled.name for compiled, _p in statements],
            lambda to_prepare: _execute(connection, statements, to_prepare),
            in_transaction=lambda: connection.in_atomic_block or not connection.get_autocommit(),
        )
    if client_side and len(statements) > 1:
        return _execute(connection, statements, None)
    with connection.cursor() as cursor:
        results = []
        for compiled, params in statements:
            cursor.execute(compiled.sql, params)
            results.append(cursor.fetchall())
        return results


def _execute(
    connection: Any, statements: list[tuple[_Compiled, list[Any]]], to_prepare: frozenset[str] | None
) -> list[list[tuple]]:
    """Every statement in one string: their own SQL (`to_prepare` None), or a `PREPARE` of each the
    session lacks, then an `EXECUTE` each."""
    if to_prepare is None:
        prepares, parts = {}, [compiled.sql or "" for compiled, _p in statements]
    else:
        prepares = {c.name: c.body for c, _p in statements if c.name in to_prepare}  # once each
        parts = [f"PREPARE {name} AS {body}" for name, body in prepares.items()]
        parts += [
            f"EXECUTE {c.name}({', '.join(['%s'] * len(p))})" if p else f"EXECUTE {c.name}"
            for c, p in statements
        ]
    with connection.cursor() as cursor:
        cursor.execute("; ".join(parts), [p for _c, params in statements for p in params])
        for _ in prepares:  # past each PREPARE's (empty) result
            cursor.nextset()
        results = [cursor.fetchall()]
        for _ in statements[1:]:
            cursor.nextset()
            results.append(cursor.fetchall())
        return results


def _binds_client_side(connection: Any) -> bool:
    """Django's psycopg connections bind client-side unless OPTIONS server_side_binding is set."""
    return issubclass(connection.connection.cursor_factory, psycopg.ClientCursor)


_WITH_IDS: dict[type[models.Model], Statement[Any]] = {}


def with_ids(model: type[M]) -> Statement[M]:
    """The rows of `model` (its default manager) whose primary key is among `ids`, in no particular
    order: one statement per model, made once."""
    statement = _WITH_IDS.get(model)
    if statement is None:
        slot = ArraySlot("ids", of=model._meta.pk)
        statement = _WITH_IDS[model] = Statement(
            lambda ids: model._default_manager.filter(pk__in=ids).order_by(), slot
        )
    return statement
