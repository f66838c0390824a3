"""Runs per (case, system): statuses, failures with the error, retry, waiver, resume, the real worker."""

import pytest
from django.core.exceptions import ValidationError

from connectors import sql
from connectors.connector import for_system
from connectors.models import ErasureJournal, RunEvent, SystemRun
from connectors.secrets import open_json
from connectors.selectors import case_access_results, case_systems_status
from connectors.services import (
    case_systems_plan,
    case_systems_settled,
    connection_save,
    journal,
    system_run_execute,
    system_run_retry,
    system_run_waive,
)

from .conftest import JANE, count, fetch

sqlite_only = pytest.mark.parametrize("external_url", ["sqlite"], indirect=True)


def _plan(system, action, case_id=7):
    return case_systems_plan(
        case_id=case_id, action=action, identities={"email": [JANE["email"]]}, actor="test"
    )


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_an_access_run_stores_its_rows_sealed_and_labels_categories(crm_system):
    [run] = _plan(crm_system, "access")  # eager Celery: the task ran on commit
    run.refresh_from_db()
    assert run.status == "done" and run.counts["order_lines"] == 4
    assert JANE["email"] not in run.result  # sealed
    results = {r.collection: r for r in case_access_results(case_id=7)}
    assert results["customers"].rows[0]["email"] == JANE["email"]
    assert results["customers"].categories["email"] == ["contact"]
    assert "email (contact)" in results["customers"].csv().splitlines()[0]
    assert case_systems_settled(case_id=7)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_an_erasure_run_erases_blanks_its_identities_and_is_settled(crm_system, crm_url):
    [run] = _plan(crm_system, "erasure")
    run.refresh_from_db()
    assert run.status == "done" and run.identities == ""
    assert run.counts["tickets"] == 1
    assert count(crm_url, "tickets", "customer_id = 1") == 0
    assert list(RunEvent.objects.filter(run=run).values_list("kind", flat=True)) == [
        "planned",
        "started",
        "done",
    ]
    assert [s.status for s in case_systems_status(case_id=7)] == ["done"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_planning_twice_creates_no_second_run_and_changes_nothing_twice(crm_system, crm_url):
    _plan(crm_system, "erasure")
    _plan(crm_system, "erasure")
    assert SystemRun.objects.count() == 1
    assert ErasureJournal.objects.filter(collection="tickets").count() == 1


@pytest.mark.django_db
def test_a_dead_database_fails_the_run_with_the_error_and_the_case_is_not_settled(tmp_path):
    from connectors import demo
    from connectors.services import dataset_import
    from inventory.models import System

    system = System.objects.create(code="dead", name="Dead", kind="external", owner="IT")
    connection_save(system=system, kind="sql", url="postgresql://nobody@127.0.0.1:1/none", actor="test")
    dataset_import(system=system, text=demo.dataset_text(), actor="test")
    run = SystemRun.objects.create(case_id=9, system=system, action="access", identities="")
    run = system_run_execute(run_id=run.pk)
    assert run.status == "failed"
    assert run.error == "SystemUnavailable: OperationalError: the database did not answer"
    assert "nobody" not in run.error
    assert not case_systems_settled(case_id=9)
    assert case_systems_status(case_id=9)[0].can_retry


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_credential_change_mid_case_is_used_by_the_retry(crm_system, crm_url, tmp_path):
    connection_save(
        system=crm_system, kind="sql", url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}", actor="test"
    )
    [run] = _plan(crm_system, "access")
    run.refresh_from_db()
    assert run.status == "failed"
    connection_save(system=crm_system, kind="sql", url=crm_url, actor="test")
    run = system_run_retry(run_id=run.pk, actor="officer")
    run.refresh_from_db()
    assert run.status == "done" and run.attempts == 2
    assert case_systems_settled(case_id=7)


@sqlite_only
@pytest.mark.django_db
def test_retry_refuses_a_done_run_and_waiver_needs_a_reason(crm_system):
    run = SystemRun.objects.create(case_id=3, system=crm_system, action="access", status="done")
    with pytest.raises(ValidationError, match="Only a failed or pending run"):
        system_run_retry(run_id=run.pk, actor="officer")
    other = SystemRun.objects.create(case_id=3, system=crm_system, action="erasure", status="failed")
    with pytest.raises(ValidationError, match="needs a reason"):
        system_run_waive(run_id=other.pk, actor="officer", reason="  ")
    assert not case_systems_settled(case_id=3)
    system_run_waive(run_id=other.pk, actor="officer", reason="System decommissioned; no data.")
    assert case_systems_settled(case_id=3)
    assert SystemRun.objects.get(pk=other.pk).status == "waived"


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_journaling_resumes_without_double_erasing(crm_system, crm_url):
    """The journal is committed before the external change: the resumed run re-applies it once."""
    run = SystemRun.objects.create(
        case_id=11, system=crm_system, action="erasure", status="running", attempts=1,
        identities=_sealed({"email": [JANE["email"]]}),
    )  # fmt: skip
    connector = for_system(crm_system)
    steps = connector.steps(connector.access({"email": [JANE["email"]]}))
    journal(system=crm_system, run=run, steps=steps)  # ... and the worker died here
    connector.apply([s for s in steps if s.collection == "customers"])  # or here, half-way
    hashed = fetch(crm_url, "SELECT email FROM customers WHERE id = 1")
    run = system_run_execute(run_id=run.pk)  # the redelivered task
    assert run.status == "done" and run.attempts == 2
    assert (
        fetch(crm_url, "SELECT email FROM customers WHERE id = 1")
        == hashed
        == [(sql.keyed_hash(JANE["email"]),)]
    )
    assert count(crm_url, "tickets", "customer_id = 1") == 0
    assert run.counts["tickets"] == 1


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_settled_run_is_left_alone_when_its_task_arrives_again(crm_system):
    [run] = _plan(crm_system, "access")
    run = system_run_execute(run_id=run.pk)
    assert run.status == "done" and run.attempts == 1


def _sealed(value):
    from connectors.secrets import seal_json

    return seal_json(value)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("external_url", ["postgresql"], indirect=True)
def test_runs_complete_with_a_real_worker(crm_system, crm_url, celery_worker):
    import time

    runs = [*_plan(crm_system, "access", case_id=21), *_plan(crm_system, "erasure", case_id=22)]
    deadline = time.monotonic() + 60
    while not all(r.settled for r in SystemRun.objects.filter(pk__in=[r.pk for r in runs])):
        assert time.monotonic() < deadline, list(SystemRun.objects.values_list("status", "error"))
        time.sleep(0.1)
    access = SystemRun.objects.get(case_id=21)
    assert access.status == "done" and open_json(access.result)["customers"][0]["name"] == "Jane Roe"
    assert SystemRun.objects.get(case_id=22).status == "done"
    assert count(crm_url, "tickets", "customer_id = 1") == 0
