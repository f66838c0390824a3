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
transaction is aborted) and the next call prepares it again. Behind a pooler in transaction mode
(PgBouncer before 1.21) turn the setting off.
"""

import functools
import hashlib
import itertools
import re
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

_PLACEHOLDER = re.compile(r"%[sb]")
_LOST = b"26000"  # invalid_sql_statement_name: no such prepared statement in this session
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
# The statements each psycopg connection has prepared, by name (forgotten with the connection).
_prepared: "weakref.WeakKeyDictionary[Any, set[bytes]]" = weakref.WeakKeyDictionary()


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
        held = _prepared.setdefault(raw, set())
        with raw.lock:
            for attempt in (1, 2):
                if name not in held:
                    # Counted as prepared before it is: a statement that was never made fails the next
                    # run as lost, which prepares it again.
                    held.add(name)
                    _check(raw.pgconn.prepare(name, body, types), raw)
                result = raw.pgconn.exec_prepared(name, values, adapt.formats)
                if (
                    result.status == pq.ExecStatus.FATAL_ERROR
                    and result.error_field(pq.DiagnosticField.SQLSTATE) == _LOST
                ):
                    held.discard(name)
                    if attempt == 1 and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
                        continue  # not in a transaction: prepare it again
                _check(result, raw)
                return


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
def _name(body: bytes, types: tuple[int, ...]) -> bytes:
    return b"privacyops_web_" + hashlib.sha256(body + repr(types).encode()).hexdigest()[:16].encode()


def _check(result: pq.abc.PGresult, raw: Any) -> None:
    if result.status not in _OK:
        raise errors.error_from_result(result, encoding=raw.info.encoding)
