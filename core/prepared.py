"""Statements prepared by name once per PostgreSQL session, and run again when the session lost them.

Discovery's union, the retention sweep's window and the website's choice statement cost PostgreSQL more
to parse and plan than to run, so each session prepares them once. A session can lose them (DISCARD ALL,
DEALLOCATE ALL, a pooler handing over another session): running one then fails with SQLSTATE 26000.
Outside a transaction nothing was done, so the statement is prepared again and run once more; inside one
the transaction is aborted, so the error stands and the next call prepares again.

One registry for every module: the names a session holds, per psycopg connection (forgotten with it: a
reconnect is a new session with none). A name is counted as prepared before its PREPARE runs: a
statement that was never made fails its next run with 26000, which prepares it again, whereas one
prepared but not counted would fail every PREPARE after it as a duplicate.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

LOST = "26000"  # invalid_sql_statement_name: no such prepared statement in this session

_held: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = weakref.WeakKeyDictionary()


def run_prepared(
    raw: psycopg.Connection[Any],
    name: str,
    run: Callable[[bool], T],
    *,
    in_transaction: Callable[[], bool],
) -> T:
    """`run(prepare)` with prepare=True when this session has not prepared `name` yet; once more (prepare
    again) if it lost the statement, unless `in_transaction()` after the failure."""
    held = _held.setdefault(raw, set())
    try:
        return _run(held, name, run)
    except Exception as error:
        if not is_lost(error):
            raise
        held.discard(name)
        if in_transaction():
            raise  # the transaction is aborted: the next call prepares again
    return _run(held, name, run)


def _run(held: set[str], name: str, run: Callable[[bool], T]) -> T:
    prepare = name not in held
    held.add(name)
    return run(prepare)


def is_lost(error: BaseException) -> bool:
    """Whether `error` (psycopg's, or Django's wrapping it) says the session has no such statement."""
    return LOST in (getattr(error, "sqlstate", None), getattr(error.__cause__, "sqlstate", None))


def names(raw: psycopg.Connection[Any]) -> frozenset[str]:
    """The statements this session is counted as holding."""
    return frozenset(_held.get(raw, ()))


def forget(raw: psycopg.Connection[Any], *forgotten: str) -> None:
    """Count statements the session dropped (DEALLOCATE name) as gone: the next run prepares them."""
    _held.get(raw, set()).difference_update(forgotten)
