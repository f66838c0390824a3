"""PostgreSQL: a system's erasure steps as one text of statements, sent in one round trip.

The statements are the ones `sql.apply_step` runs (deletes by key, NULLs where not yet NULL, a keyed hash
per row not yet hashed), written directly with identifiers quoted by the dialect and values quoted by the
driver (psycopg's own literal adaptation). Rendering them through SQLAlchemy's compiler with literal
binds cost more than the statements themselves (about 1.5 ms of a 7 ms erasure).

`send_alongside` sends that text with the transaction's BEGIN in front, through libpq's asynchronous
interface, and runs the journal in the calling thread while the server works: one round trip for BEGIN
and the statements (psycopg would send BEGIN on its own first), and no thread to start and join.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import generators, pq
from psycopg.adapt import Transformer

from .graph import ERASE_DELETE, ERASE_HASH, Graph
from .sql import ErasureStep, hash_params


def one_round_trip(conn: sa.Connection, graph: Graph, steps: list[ErasureStep]) -> str | None:
    """The steps as one text of statements, when the traversal already read the values to hash and
    the server is PostgreSQL through psycopg; None where that is not possible (step by step then)."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return None
    literal = Transformer(conn.connection.driver_connection).as_literal
    quote = conn.dialect.identifier_preparer.quote

    def value(v: Any) -> str:
        return literal(v).decode()

    statements: list[str] = []
    for step in steps:
        rendered = _step_text(graph, step, quote, value)
        if rendered is None:
            return None
        statements += rendered
    return ";\n".join(statements) if len(statements) > 1 else None


def _step_text(
    graph: Graph, step: ErasureStep, quote: Callable[[str], str], value: Callable[[Any], str]
) -> list[str] | None:
    schema, _, name = step.collection.split(":")[-1].rpartition(".")
    table = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
    columns = step.key_columns
    if len(columns) == 1:
        keys = f"{quote(columns[0])} IN ({', '.join(value(k[0]) for k in step.keys)})"
    else:
        rows = ", ".join("(" + ", ".join(value(v) for v in k) + ")" for k in step.keys)
        keys = f"({', '.join(quote(c) for c in columns)}) IN ({rows})"
    if step.strategy == ERASE_DELETE:
        return [f"DELETE FROM {table} WHERE {keys}"]
    fields: dict[str, str] = step.strategy  # type: ignore[assignment]
    nulls = [f for f, s in fields.items() if s != ERASE_HASH]
    hashes = [f for f, s in fields.items() if s == ERASE_HASH]
    if hashes and (step.rows is None or (step.rows and any(f not in step.rows[0] for f in hashes))):
        return None  # the values to hash must be read first
    out: list[str] = []
    if nulls:
        assignments = ", ".join(f"{quote(f)} = NULL" for f in nulls)
        not_null = " OR ".join(f"{quote(f)} IS NOT NULL" for f in nulls)
        out.append(f"UPDATE {table} SET {assignments} WHERE {keys} AND ({not_null})")
    for p in hash_params(step, step.rows or [], hashes) if hashes else []:
        assignments = ", ".join(f"{quote(f)} = {value(p[f'h_{f}'])}" for f in hashes)
        where = " AND ".join(f"{quote(c)} = {value(p[f'k_{c}'])}" for c in columns)
        out.append(f"UPDATE {table} SET {assignments} WHERE {where}")
    return out


def read_rows(conn: sa.Connection, parts: list[str], values: list[Any]) -> list[tuple[int, Any]] | None:
    """PostgreSQL through psycopg: the one-statement traversal (`parts`, the text split around its
    parameters, odd parts their indexes) run by a psycopg cursor on the connection as it is, outside
    SQLAlchemy's execution; psycopg prepares it after a few runs (as it did under SQLAlchemy: the
    server then only binds and executes it). Rows of (collection index, JSON). None elsewhere.

    SQLAlchemy's execution cost more CPU than the statement's round trip (about 0.2 ms a traversal)."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return None
    driver = conn.connection.driver_connection
    query = "".join(p.replace("%", "%%") if i % 2 == 0 else "%s" for i, p in enumerate(parts))
    order = [values[int(p)] for p in parts[1::2]]
    try:
        with driver.cursor() as cursor:
            cursor.execute(query, order)
            return cursor.fetchall()
    except psycopg.Error as exc:
        invalidated = driver.pgconn.status == pq.ConnStatus.BAD
        if invalidated:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            _HIDDEN_READ, None, exc, psycopg.Error, connection_invalidated=invalidated, dialect=conn.dialect
        ) from None


_HIDDEN_READ = "(traversal: not shown, it holds the identities)"
# Named in an error instead of the statements, which hold the values.
_HIDDEN = "(erasure statements: not shown, they hold the erased values)"


def _begin(driver: psycopg.Connection) -> str:
    """The BEGIN psycopg itself would send, from the connection's public transaction settings."""
    parts = ["BEGIN"]
    if driver.isolation_level is not None:
        parts.append(
            "ISOLATION LEVEL " + psycopg.IsolationLevel(driver.isolation_level).name.replace("_", " ")
        )
    if driver.read_only is not None:
        parts.append("READ ONLY" if driver.read_only else "READ WRITE")
    if driver.deferrable is not None:
        parts.append("DEFERRABLE" if driver.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


def send_alongside(conn: sa.Connection, text: str, local: Callable[[], None] | None = None) -> None:
    """Send `text` (several statements) in the caller's open transaction and, while the server applies
    them, run `local` (the journal, in our own database) in this thread; both are done when this
    returns, nothing is committed here, and `local`'s error comes first (a journal that failed stops
    the change: the caller rolls it back).

    The transaction's BEGIN travels in front of the statements in the same simple query: psycopg would
    otherwise send it alone first, one round trip more. Errors from the server are raised as
    SQLAlchemy's (as `exec_driver_sql` would), without the statements' text.
    """
    driver = conn.connection.driver_connection
    pgconn = driver.pgconn
    idle = not driver.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE
    begin = f"{_begin(driver)};\n" if idle else ""
    query = (begin + text).encode(driver.info.encoding)
    local_error: BaseException | None = None
    try:
        with driver.lock:
            pgconn.send_query(query)
            driver.wait(generators.send(pgconn))
            try:
                if local is not None:
                    local()
            except BaseException as exc:  # noqa: BLE001 (raised below, once the server has answered)
                local_error = exc
            results = driver.wait(generators.fetch_many(pgconn))
        if local_error is not None:
            raise local_error
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    except psycopg.Error as exc:
        if local_error is not None:
            raise local_error from None
        invalidated = pgconn.status == pq.ConnStatus.BAD
        if invalidated:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            _HIDDEN, None, exc, psycopg.Error, connection_invalidated=invalidated, dialect=conn.dialect
        ) from None
