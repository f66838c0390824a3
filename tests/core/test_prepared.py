"""core.prepared against a real PostgreSQL session: a statement the session lost is prepared again
outside a transaction, the error stands inside one, and any other error leaves the registry alone.

Each flavour runs the statement as a caller does: through Django's cursor (its errors wrap psycopg's) or
on the psycopg connection (psycopg's own errors, the transaction read from libpq)."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from psycopg import pq

import core.prepared

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NAME = "privacyops_test_double"
PREPARE = f"PREPARE {NAME} (int) AS SELECT $1 * 2"


@pytest.fixture(autouse=True)
def _own_session():
    """A new session before and after: DEALLOCATE ALL drops other modules' statements too, which the
    registry would still count for the tests that follow."""
    connection.close()
    yield
    connection.close()


def _django(prepare: bool, value: object) -> int:
    with connection.cursor() as cursor:
        if prepare:
            cursor.execute(PREPARE)
        cursor.execute(f"EXECUTE {NAME}(%s)", [value])
        return cursor.fetchone()[0]


def _psycopg(prepare: bool, value: object) -> int:
    raw = connection.connection
    if prepare:
        raw.execute(PREPARE)
    return raw.execute(f"EXECUTE {NAME}(%s)", [value]).fetchone()[0]


def _django_in_transaction() -> bool:
    return connection.in_atomic_block or not connection.get_autocommit()


def _libpq_in_transaction() -> bool:
    return connection.connection.pgconn.transaction_status != pq.TransactionStatus.IDLE


FLAVOURS = {"django": (_django, _django_in_transaction), "psycopg": (_psycopg, _libpq_in_transaction)}


def _double(flavour: str, calls: list[bool], value: object = 21) -> int:
    run, in_transaction = FLAVOURS[flavour]

    def recorded(prepare: bool) -> int:
        calls.append(prepare)
        return run(prepare, value)

    connection.ensure_connection()
    return core.prepared.run_prepared(connection.connection, NAME, recorded, in_transaction=in_transaction)


def _session_holds() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [NAME])
        return cursor.fetchone()[0] == 1


def _lose_all() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_prepared_once_then_executed(flavour):
    calls: list[bool] = []
    assert [_double(flavour, calls) for _ in range(3)] == [42, 42, 42]
    assert calls == [True, False, False]
    assert _session_holds() and NAME in core.prepared.names(connection.connection)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_statement_lost_by_deallocate_all_is_prepared_again_and_runs_outside_a_transaction(flavour):
    calls: list[bool] = []
    _double(flavour, calls)
    _lose_all()

    assert _double(flavour, calls) == 42

    assert calls == [True, False, True]  # the failed EXECUTE, then PREPARE and EXECUTE
    assert _session_holds()
    assert _double(flavour, calls) == 42 and calls[-1] is False


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_inside_a_transaction_a_lost_statement_raises_and_the_next_call_prepares_it_again(flavour):
    calls: list[bool] = []
    _double(flavour, calls)
    _lose_all()

    with pytest.raises((DatabaseError, psycopg.Error)) as caught, transaction.atomic():
        _double(flavour, calls)

    assert core.prepared.is_lost(caught.value)
    assert calls == [True, False]  # no second attempt in the aborted transaction
    assert NAME not in core.prepared.names(connection.connection)
    assert _double(flavour, calls) == 42 and calls[-1] is True
    with transaction.atomic():  # prepared again: it runs inside a transaction too
        assert _double(flavour, calls) == 42 and calls[-1] is False


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_error_other_than_a_lost_statement_propagates_and_keeps_the_name(flavour):
    calls: list[bool] = []
    _double(flavour, calls)

    with pytest.raises((DatabaseError, psycopg.Error)) as caught:
        _double(flavour, calls, value="not a number")  # 22P02 invalid_text_representation

    assert not core.prepared.is_lost(caught.value)
    assert calls == [True, False]  # not run again
    assert NAME in core.prepared.names(connection.connection)
    assert _double(flavour, calls) == 42 and calls[-1] is False  # still prepared: EXECUTE alone


def test_a_prepare_that_failed_counts_as_prepared_and_the_next_run_prepares_again():
    """Counted before PREPARE runs: the next run's EXECUTE finds nothing (26000) and prepares again,
    rather than a statement the session holds but the registry missed failing every PREPARE after it."""
    calls: list[bool] = []

    def broken(prepare: bool) -> int:
        calls.append(prepare)
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {NAME} (int) AS SELECT $1 * FROM")  # a syntax error
        raise AssertionError("PREPARE should have failed")

    connection.ensure_connection()
    with pytest.raises(DatabaseError) as caught:
        core.prepared.run_prepared(connection.connection, NAME, broken, in_transaction=_django_in_transaction)

    assert not core.prepared.is_lost(caught.value)  # the PREPARE's own error
    assert NAME in core.prepared.names(connection.connection) and not _session_holds()
    assert _double("django", calls) == 42
    assert calls == [True, False, True]
