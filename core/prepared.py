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

Statements sent together in one string (core.batched: `run_prepared_all`) can fail half-way, leaving
some prepared and some not; after such a failure the session is asked which it holds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

LOST = "26000"  # invalid_sql_statement_name: no such prepared statement in this session
DUPLICATE = "42P05"  # duplicate_prepared_statement: the session holds it though it was not counted

_held: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = weakref.WeakKeyDictionary()
# Names whose state a failed run_prepared_all left unknown: the session is asked before they run again.
_unsure: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = weakref.WeakKeyDictionary()


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


def run_prepared_all(
    raw: psycopg.Connection[Any],
    names: Sequence[str],
    run: Callable[[frozenset[str]], T],
    *,
    in_transaction: Callable[[], bool],
) -> T:
    """`run(to_prepare)` for statements sent together: the names among `names` this session has not
    prepared yet.

    Several names in one string can fail half-way (a PREPARE that ran stays, whatever fails after it), so
    when the session lost a statement, or holds one that was not counted, the session itself is asked
    which of the names it holds (pg_prepared_statements) and the rest are prepared: at once outside a
    transaction, else (the transaction is aborted, the error stands) at the next call.
    """
    held = _held.setdefault(raw, set())
    unsure = _unsure.setdefault(raw, set())
    if unsure:
        _ask_session(raw, held, unsure)
    try:
        return _run_all(held, names, run)
    except Exception as error:
        if not (is_lost(error) or _sqlstate(error) == DUPLICATE):
            raise
        held.difference_update(names)
        unsure.update(names)
        if in_transaction():
            raise
    _ask_session(raw, held, unsure)
    return _run_all(held, names, run)


def _run_all(held: set[str], names: Sequence[str], run: Callable[[frozenset[str]], T]) -> T:
    todo = frozenset(names) - held
    held.update(names)
    return run(todo)


def _ask_session(raw: psycopg.Connection[Any], held: set[str], unsure: Collection[str]) -> None:
    asked = list(unsure)
    with raw.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)", [asked])
        held.update(name for (name,) in cursor.fetchall())
    _unsure.get(raw, set()).difference_update(asked)


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None) or getattr(error.__cause__, "sqlstate", None)


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
