"""The sweep end to end through a real Celery worker consuming from Redis (fan-out, completion, certificate)."""

import datetime as dt
import time

import pytest

from inventory import models as inv
from notices.models import Notice
from retention.models import ErasureJournal, SweepBatch, SweepRun
from retention.services import legal_hold_place
from retention.tasks import sweep

from . import factories as f


def _wait_for_finished_run(timeout: float = 90) -> SweepRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SweepRun.objects.exclude(status=SweepRun.Status.RUNNING).first()
        if run is not None:
            return run
        time.sleep(0.2)
    raise AssertionError("the sweep did not finish on the worker")


# PostgreSQL only: the worker thread can't share the in-memory SQLite test database.
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_sweep_runs_end_to_end_through_a_real_worker_on_redis(celery_worker, settings):
    settings.RETENTION_SWEEP_BATCH_ROWS = 6
    settings.RETENTION_SWEEP_WINDOW_ROWS = 2
    f.only_these_schedules()
    f.schedule("activity", months=24)
    f.schedule("marketing", months=24)
    owner, held = f.subject(), f.subject()
    long_ago = f.ago(days=900)
    expired = [f.activity(owner, long_ago) for _ in range(10)] + [f.marketing(owner, long_ago)]
    young = [f.activity(owner, f.ago(days=3)) for _ in range(5)]
    kept = f.activity(held, long_ago)
    legal_hold_place(subject_id=held.pk, reason="Litigation", owner="Legal")

    sent = sweep.delay()  # what django-celery-beat sends every day
    run = _wait_for_finished_run()

    assert run.status == SweepRun.Status.DONE
    assert run.batches.count() > 2  # fanned out as one task per primary-key range
    assert not run.batches.exclude(status=SweepBatch.Status.DONE).exists()
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == {r.pk for r in young} | {kept.pk}
    assert not inv.MarketingPreference.objects.exists()
    assert run.summary["activity"] == {"erased": 10, "kept": 1, "errors": 0}
    assert run.summary["marketing"] == {"erased": 1, "kept": 0, "errors": 0}
    journaled = [
        (label, pk)
        for label, pks in ErasureJournal.objects.filter(sweep_run=run).values_list(
            "model_label", "record_pks"
        )
        for pk in pks
    ]
    assert len(journaled) == len(set(journaled)) == len(expired)
    assert run.certificate is not None and run.certificate.erased_count == 11
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert isinstance(run.as_of, dt.datetime)
    report = Notice.objects.get(kind="operations_report")  # the report to the privacy office, queued once
    assert report.idempotency_key == f"retention.sweep-report:{run.public_id}"
    # Completion is counted in the database: the sweep tasks write nothing to the result backend.
    assert sent.backend.get_task_meta(sent.id)["status"] == "PENDING"
