"""The web choice's ledger statement as a prepared statement (CONSENT_WEB_PREPARED_STATEMENTS).

Parsing and planning that statement (on a first visit seven data-modifying CTEs and the audit append)
cost PostgreSQL more than running it, so each database session prepares it once, by name, and after
that only binds and runs it: one round trip either way (libpq's PQprepare once, then PQexecPrepared,
which let other threads run while they wait). Its parameters are adapted as psycopg adapts them for a
statement bound server-side (%b binary, %s as psycopg chooses), and the statement is prepared for their
types, so a parameter of another type (a small id becoming a large one) makes another statement.

The statement is prepared on the connection's libpq handle, not through psycopg's cursor: psycopg
prepares only while its connection has a prepare_threshold, which Django leaves unset so that nothing is
prepared behind a transaction pooler, and a psycopg connection holding a statement it prepared answers
every rollback with DEALLOCATE ALL, which would drop the statement discovery prepares by name
(inventory/discovery.py) too. A session that lost the statement (DISCARD ALL, DEALLOCATE ALL, a
pooler's other session) prepares it again, outside a transaction; inside one the error stands (the
transaction is aborted) and the next call prepares it again (core/prepared.py). Behind a pooler in
transaction mode (PgBouncer before 1.21) turn the setting off.
"""

import functools
import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

from core import prepared

_PLACEHOLDER = re.compile(r"%[sb]")
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def execute(sql: str, params: Sequence[Any]) -> None:
    """Run `sql` (%s or %b placeholders, each cast to its type; no %%) with `params` as this session's
    prepared statement for their types; errors as Django's."""
    body, formats = _statement(sql)
    if len(formats) != len(params):
        raise ValueError("One placeholder per parameter.")
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.connection
        if not raw.autocommit and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            # A transaction psycopg has not begun yet (it sends BEGIN before its first statement, with the
            # isolation level it was given): this statement goes through psycopg, unprepared.
            with psycopg.Cursor(raw) as bound:
                bound.execute(sql, params)
            return
        adapt = Transformer(raw)
        values = adapt.dump_sequence(params, formats)
        types = adapt.types
        name = _name(body, types)
        encoded = name.encode()

        def run(prepare: bool) -> None:
            if prepare:
                _check(raw.pgconn.prepare(encoded, body, types), raw)
            # A lost statement's result raised as psycopg's error, for run_prepared to see.
            _check(raw.pgconn.exec_prepared(encoded, values, adapt.formats), raw)

        with raw.lock:
            prepared.run_prepared(
                raw,
                name,
                run,
                in_transaction=lambda: raw.pgconn.transaction_status != pq.TransactionStatus.IDLE,
            )


@functools.lru_cache(maxsize=16)
def _statement(sql: str) -> tuple[bytes, tuple[PyFormat, ...]]:
    """The statement with numbered parameters, and the format of each (the text is the same every call)."""
    if "%%" in sql:
        raise ValueError("No %% in a prepared web statement.")
    marks = _PLACEHOLDER.findall(sql)
    number = itertools.count(1)
    body = _PLACEHOLDER.sub(lambda _mark: f"${next(number)}", sql).encode()
    return body, tuple(PyFormat.BINARY if mark == "%b" else PyFormat.AUTO for mark in marks)


@functools.lru_cache(maxsize=64)
def _name(body: bytes, types: tuple[int, ...]) -> str:
    return "privacyops_web_" + hashlib.sha256(body + repr(types).encode()).hexdigest()[:16]


def _check(result: pq.abc.PGresult, raw: Any) -> None:
    if result.status not in _OK:
        raise errors.error_from_result(result, encoding=raw.info.encoding)
