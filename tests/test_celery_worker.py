"""The worker's database connections (privacyops/celery_fixup.py) on a real worker consuming from Redis:
kept between tasks as CONN_MAX_AGE says, replaced when one dies between tasks."""

import time

import pytest
from django.db import connection, connections

from privacyops.celery import app, health


@app.task(name="tests.backend_pid")
def backend_pid() -> int:
    """The PostgreSQL backend serving the task: the same pid means the same connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def conn_max_age(monkeypatch):
    """Sets CONN_MAX_AGE for the connections the worker opens (they read the shared settings dict);
    terminates the worker's backends afterwards so none outlives the test database."""
    pids: list[int] = []

    def set_age(seconds: int) -> list[int]:
        monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", seconds)
        return pids

    yield set_age
    with connection.cursor() as cursor:
        for pid in set(pids):
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _run(task, pids: list[int]):
    result = task.delay().get(timeout=30)
    if task is backend_pid:
        pids.append(result)
    return result


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the terminated backend did not go away")


@pytest.mark.postgres
@pytest.mark.redis
def test_tasks_in_a_row_share_one_connection_when_conn_max_age_allows(celery_worker, conn_max_age):
    pids = conn_max_age(60)
    first, second = _run(backend_pid, pids), _run(backend_pid, pids)
    assert first == second


@pytest.mark.postgres
@pytest.mark.redis
def test_with_conn_max_age_zero_each_task_has_its_own_connection(celery_worker, conn_max_age):
    pids = conn_max_age(0)
    first, second = _run(backend_pid, pids), _run(backend_pid, pids)
    assert first != second


@pytest.mark.postgres
@pytest.mark.redis
def test_a_connection_killed_between_tasks_is_replaced_and_the_next_task_succeeds(
    celery_worker, conn_max_age
):
    pids = conn_max_age(60)
    killed = _run(backend_pid, pids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [killed])
        assert cursor.fetchone()[0] is True
    _wait_gone(killed)

    assert health.delay().get(timeout=30) == {"status": "ok", "database": True}
    replacement = _run(backend_pid, pids)
    assert replacement != killed
    assert _run(backend_pid, pids) == replacement  # and the new one is kept in turn
