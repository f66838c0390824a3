"""The sweep erases exactly the expired records, in resumable batches, and certifies what it did."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import verify_chain
from inventory import crypto
from inventory import models as inv
from inventory.services import record_reveal
from retention import services
from retention.models import ErasureCertificate, ErasureJournal, SweepBatch, SweepRun
from retention.selectors import forecast
from retention.services import sweeps

from . import factories as f

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def _journaled(label: str) -> list[int]:
    ids: list[int] = []
    for pks in ErasureJournal.objects.filter(model_label=label).values_list("record_pks", flat=True):
        ids.extend(pks)
    return ids


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_the_seeded_schedules_erase_exactly_the_expired_records_and_nothing_else(clock):
    a, b = f.subject(), f.subject()
    old_activity = [f.activity(a, NOW - dt.timedelta(days=800)), f.activity(b, NOW - dt.timedelta(days=731))]
    young_activity = [f.activity(a, NOW - dt.timedelta(days=700)), f.activity(b, NOW)]
    old_marketing = f.marketing(a, NOW - dt.timedelta(days=900))
    young_marketing = f.marketing(b, NOW - dt.timedelta(days=100))
    closed_long_ago = f.account(
        a, collected_at=NOW - dt.timedelta(days=4000), closed_at=NOW - dt.timedelta(days=7 * 366)
    )
    closed_recently = f.account(
        b, collected_at=NOW - dt.timedelta(days=4000), closed_at=NOW - dt.timedelta(days=365)
    )
    still_open = f.account(b, collected_at=NOW - dt.timedelta(days=9000))
    old_survey = f.survey(a, NOW - dt.timedelta(days=4 * 365))
    young_survey = f.survey(b, NOW - dt.timedelta(days=2 * 365))

    run = f.sweep()

    assert run.status == SweepRun.Status.DONE
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == {r.pk for r in young_activity}
    assert set(inv.MarketingPreference.objects.values_list("pk", flat=True)) == {young_marketing.pk}
    assert set(inv.UserAccount.objects.values_list("pk", flat=True)) == {closed_recently.pk, still_open.pk}
    old_survey.refresh_from_db()
    young_survey.refresh_from_db()
    assert (old_survey.answer, old_survey.question, old_survey.survey) == ("", "", "ERP readiness")
    assert record_reveal(young_survey)["answer"] == "Inventory counts"
    # Subjects' own rows and other categories are untouched by retention schedules.
    assert inv.DataSubject.objects.filter(pk__in=[a.pk, b.pk], erased_at__isnull=True).count() == 2
    # Journal: each erased record once, with its method.
    assert sorted(_journaled("inventory.ActivityEvent")) == sorted(r.pk for r in old_activity)
    assert _journaled("inventory.MarketingPreference") == [old_marketing.pk]
    assert _journaled("inventory.UserAccount") == [closed_long_ago.pk]
    assert _journaled("inventory.SurveyResponse") == [old_survey.pk]
    assert ErasureJournal.objects.get(model_label="inventory.SurveyResponse").method == "anonymise"
    assert run.summary == {
        "activity": {"erased": 2, "kept": 0, "errors": 0},
        "account": {"erased": 1, "kept": 0, "errors": 0},
        "marketing": {"erased": 1, "kept": 0, "errors": 0},
        "survey": {"erased": 1, "kept": 0, "errors": 0},
    }
    assert run.erased_count == 5


@pytest.mark.django_db
def test_a_sweep_writes_a_certificate_with_counts_methods_and_no_personal_data(clock):
    owner = f.subject(name="Ada Lovelace", email="ada@example.com")
    f.activity(owner, NOW - dt.timedelta(days=800))
    f.survey(owner, NOW - dt.timedelta(days=4 * 365), answer="Ada's secret answer")
    run = f.sweep()
    certificate = run.certificate
    assert certificate.kind == ErasureCertificate.Kind.SWEEP
    assert certificate.erased_count == 2
    methods = {row["model"]: row["method"] for row in certificate.summary["per_model"]}
    assert methods["inventory.ActivityEvent"] == "delete"
    assert methods["inventory.SurveyResponse"] == "anonymise"
    assert certificate.summary["journal"]["sweep_run_id"] == run.pk
    text = str(certificate.summary) + certificate.reason
    assert "Ada" not in text and "ada@example.com" not in text
    actions = list(
        AuditEvent.objects.filter(target_type="retention.sweeprun").values_list("action", flat=True)
    )
    assert {"retention.sweep.started", "retention.sweep.finished"} <= set(actions)
    assert verify_chain()[1] is None


@pytest.mark.django_db
def test_a_second_sweep_erases_nothing_again(clock):
    owner = f.subject()
    f.activity(owner, NOW - dt.timedelta(days=800))
    f.survey(owner, NOW - dt.timedelta(days=4 * 365))
    first = f.sweep()
    journal_rows = ErasureJournal.objects.count()
    second = f.sweep()
    assert first.erased_count == 2
    assert second.erased_count == 0
    assert ErasureJournal.objects.count() == journal_rows


@pytest.mark.django_db
def test_dry_run_reports_what_would_be_erased_and_changes_nothing(clock):
    owner = f.subject()
    for days in (800, 900, 10):
        f.activity(owner, NOW - dt.timedelta(days=days))
    f.survey(owner, NOW - dt.timedelta(days=4 * 365))
    tables = [
        inv.ActivityEvent,
        inv.SurveyResponse,
        ErasureJournal,
        SweepRun,
        SweepBatch,
        ErasureCertificate,
        AuditEvent,
    ]
    before = {m: list(m.objects.order_by("pk").values()) for m in tables}
    out = StringIO()
    call_command("sweep", "--dry-run", stdout=out)
    assert {m: list(m.objects.order_by("pk").values()) for m in tables} == before
    text = out.getvalue()
    assert "inventory.ActivityEvent" in text and "would erase 2" in text
    assert (
        "Dry run: 3 records would be erased now (3 expired, 0 of 0 minor(s)), 0 kept under legal hold" in text
    )


@pytest.mark.django_db
def test_the_most_specific_schedule_applies_to_a_record(clock):
    f.only_these_schedules()
    analytics = inv.System.objects.create(
        code="analytics", name="Analytics", kind="external", owner="Marketing"
    )
    f.schedule("activity", months=24)
    f.schedule("activity", days=30, system=analytics)
    owner = f.subject()
    in_analytics = f.activity(owner, NOW - dt.timedelta(days=40), system=analytics)
    elsewhere_young = f.activity(owner, NOW - dt.timedelta(days=40))
    elsewhere_old = f.activity(owner, NOW - dt.timedelta(days=800))
    analytics_old = f.activity(owner, NOW - dt.timedelta(days=800), system=analytics)
    f.sweep()
    left = set(inv.ActivityEvent.objects.values_list("pk", flat=True))
    assert left == {elsewhere_young.pk}
    assert {in_analytics.pk, elsewhere_old.pk, analytics_old.pk}.isdisjoint(left)
    assert sorted(_journaled("inventory.ActivityEvent")) == sorted(
        [in_analytics.pk, elsewhere_old.pk, analytics_old.pk]
    )


@pytest.mark.django_db
def test_a_crypto_shred_schedule_leaves_the_values_unreadable(clock):
    f.only_these_schedules()
    f.schedule("account", months=12, anchor="closed", action="crypto_shred")
    owner = f.subject()
    account = f.account(
        owner, collected_at=NOW - dt.timedelta(days=900), closed_at=NOW - dt.timedelta(days=400)
    )
    assert record_reveal(account)["payment_method_reference"] == f"tok_{owner.pk}_visa"
    run = f.sweep()
    account.refresh_from_db()
    assert account.payment_method_reference == ""
    assert record_reveal(account) == {"payment_method_reference": ""}
    assert account.username  # only the encrypted values go with this action
    assert run.erased_count == 1
    assert ErasureJournal.objects.get(model_label="inventory.UserAccount").method == "crypto_shred"


@pytest.mark.django_db
def test_minors_are_erased_on_the_next_sweep_whatever_the_schedules(clock):
    f.only_these_schedules()
    child = f.subject(date_of_birth=dt.date(2015, 1, 1))
    adult = f.subject()
    assert child.is_minor and not adult.is_minor
    f.activity(child, NOW)
    f.survey(child, NOW)
    f.activity(adult, NOW)
    run = f.sweep()
    child.refresh_from_db()
    assert child.erased_at is not None and child.name == "" and child.email == ""
    assert not inv.ActivityEvent.objects.filter(subject=child).exists()
    with pytest.raises(crypto.KeyDestroyed):
        record_reveal(inv.SurveyResponse.objects.get(subject=child))
    assert inv.ActivityEvent.objects.filter(subject=adult).count() == 1
    minor_certificate = ErasureCertificate.objects.get(subject=child)
    assert minor_certificate.minor is True and minor_certificate.key_destroyed is True
    assert run.summary["minors"]["erased"] == minor_certificate.erased_count
    assert run.certificate.summary["minor_certificates"] == [str(minor_certificate.public_id)]
    # Already erased: the next sweep does not pick the child again.
    assert f.sweep().batches.filter(kind=SweepBatch.Kind.MINOR).count() == 0


@pytest.mark.django_db
def test_a_run_fans_out_into_batches_by_primary_key_range(clock, settings):
    owner = f.activity_sweep_setup(settings, batch_rows=10, window_rows=3)
    records = [f.activity(owner, NOW - dt.timedelta(days=800 if i % 2 else 1)) for i in range(35)]
    expired = {r.pk for i, r in enumerate(records) if i % 2}
    run = f.sweep()
    batches = list(run.batches.order_by("lo"))
    assert len(batches) == 4
    assert all(b.status == SweepBatch.Status.DONE and b.cursor == b.hi for b in batches)
    assert [b.hi for b in batches[:-1]] == [b.lo for b in batches[1:]]  # contiguous, no overlap
    assert sum(b.erased for b in batches) == len(expired) == run.erased_count
    assert sorted(_journaled("inventory.ActivityEvent")) == sorted(expired)
    # Several short transactions per batch: more journal rows than batches.
    assert ErasureJournal.objects.filter(sweep_run=run).count() > len(batches)


class SimulatedCrash(Exception):
    pass


def _crash_after(monkeypatch, windows: int) -> None:
    real = sweeps.sweep_window
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > windows:
            raise SimulatedCrash()
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeps, "sweep_window", flaky)


def _dataset():
    owner, other = f.subject(), f.subject()
    rows = []
    for i in range(40):
        rows.append(f.activity(owner if i % 3 else other, NOW - dt.timedelta(days=800 if i % 2 else 5)))
    for i in range(12):
        f.marketing(owner, NOW - dt.timedelta(days=1000 if i % 3 else 3))
    return rows


@pytest.mark.django_db
def test_an_interrupted_sweep_rerun_erases_each_record_once_and_totals_match_a_clean_run(
    clock, settings, monkeypatch
):
    settings.RETENTION_SWEEP_BATCH_ROWS = 8
    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    _dataset()
    clean = {fc.model_label: fc.would_erase for fc in forecast(as_of=NOW)}  # what a clean run erases
    _crash_after(monkeypatch, windows=5)
    with pytest.raises(SimulatedCrash):
        f.sweep()
    crashed = SweepRun.objects.get()
    assert crashed.status == SweepRun.Status.RUNNING
    partial = ErasureJournal.objects.count()
    assert partial > 0
    monkeypatch.undo()

    resumed = f.sweep()  # the next run finishes the interrupted one

    assert resumed.pk == crashed.pk and resumed.status == SweepRun.Status.DONE
    for label in ("inventory.ActivityEvent", "inventory.MarketingPreference"):
        ids = _journaled(label)
        assert len(ids) == len(set(ids)), f"{label}: a record was erased twice"
        assert len(ids) == clean[label]
    assert resumed.summary["activity"]["erased"] == clean["inventory.ActivityEvent"]
    assert resumed.summary["marketing"]["erased"] == clean["inventory.MarketingPreference"]
    assert resumed.erased_count == sum(clean.values())
    assert resumed.certificate.erased_count == resumed.erased_count
    assert not any(fc.would_erase for fc in forecast(as_of=NOW))


@pytest.mark.django_db
def test_a_batch_that_keeps_failing_is_recorded_as_an_error_and_the_next_run_finishes_the_job(
    clock, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Through the Celery task path (eager): bounded retries, then the run closes with the error counted."""
    owner = f.activity_sweep_setup(settings, batch_rows=10, window_rows=10)
    for _ in range(30):
        f.activity(owner, NOW - dt.timedelta(days=800))
    real = sweeps.sweep_window
    calls = {"n": 0}

    def fails_for_second_batch(target, run, *, lo, hi, **kwargs):
        calls["n"] += 1
        if run.batches.order_by("lo")[1].lo <= lo < run.batches.order_by("lo")[1].hi:
            raise SimulatedCrash()
        return real(target, run, lo=lo, hi=hi, **kwargs)

    from privacyops.celery import app
    from retention.tasks import sweep as sweep_task

    # Eager tasks replay retries in-process only when they do not propagate errors.
    app.conf.task_eager_propagates = False
    try:
        with monkeypatch.context() as patch:
            patch.setattr(sweeps, "sweep_window", fails_for_second_batch)
            with django_capture_on_commit_callbacks(execute=True):
                sweep_task.delay()
    finally:
        app.conf.task_eager_propagates = True
    run = SweepRun.objects.get()
    assert run.status == SweepRun.Status.DONE_WITH_ERRORS
    assert run.summary["activity"] == {"erased": 20, "kept": 0, "errors": 1}
    failed = run.batches.get(status=SweepBatch.Status.FAILED)
    assert failed.error_code == "SimulatedCrash" and failed.attempts == 4  # first try + 3 retries
    assert run.certificate.summary["failed_batches"][0]["error"] == "SimulatedCrash"
    follow_up = f.sweep()
    assert follow_up.pk != run.pk and follow_up.erased_count == 10
    assert len(set(_journaled("inventory.ActivityEvent"))) == 30 == len(_journaled("inventory.ActivityEvent"))


@pytest.mark.django_db
def test_a_schedule_switched_off_mid_run_erases_nothing_more(clock):
    f.only_these_schedules()
    activity = f.schedule("activity", months=24)
    owner = f.subject()
    f.activity(owner, NOW - dt.timedelta(days=800))
    run = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.COMMAND)
    pending = services.sweep_plan(run_id=run.pk)
    services.retention_schedule_update(schedule_id=activity.pk, active=False)
    for batch_id in pending:
        services.sweep_batch_process(batch_id=batch_id)
    run.refresh_from_db()
    assert run.status == SweepRun.Status.DONE and run.erased_count == 0
    assert inv.ActivityEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_second_trigger_resumes_the_running_sweep_instead_of_starting_another(clock):
    first = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.SCHEDULE)
    second = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.ADMIN)
    assert first.pk == second.pk
    assert SweepRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="retention.sweep.resumed").count() == 1


@pytest.mark.django_db
def test_the_daily_task_opens_and_plans_a_run_in_one_transaction_and_a_retrigger_gets_the_rest(
    clock, settings
):
    owner = f.activity_sweep_setup(settings, batch_rows=4)
    for _ in range(10):
        f.activity(owner, NOW - dt.timedelta(days=900))

    run = services.sweep_request(dispatch=False, plan=True)

    assert SweepRun.objects.get(pk=run.pk).planned_at is not None and run.resumed is False
    assert run.pending == list(run.batches.order_by("pk").values_list("pk", flat=True))
    assert len(run.pending) >= 3
    services.sweep_batch_process(batch_id=run.pending[0])
    again = services.sweep_request(dispatch=False, plan=True)  # resumes, planned once, the rest pending
    assert again.pk == run.pk and again.resumed and again.pending == run.pending[1:]
    for batch_id in again.pending:
        services.sweep_batch_process(batch_id=batch_id)
    assert SweepRun.objects.get(pk=run.pk).erased_count == 10


@pytest.mark.django_db
def test_a_resumed_run_keeps_its_clock(clock):
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    record = f.activity(owner, NOW - dt.timedelta(days=700))  # expires ~30 days after NOW
    run = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.COMMAND)
    clock.shift(dt.timedelta(days=60))
    resumed = f.sweep()
    assert resumed.pk == run.pk and resumed.as_of == NOW
    assert inv.ActivityEvent.objects.filter(pk=record.pk).exists()
    assert timezone.now() > NOW


@pytest.mark.django_db
def test_batches_follow_the_id_density_so_gaps_do_not_unbalance_them():
    owner = f.subject()
    rows = [f.activity(owner, NOW) for _ in range(60)]
    inv.ActivityEvent.objects.filter(pk__in=[r.pk for r in rows[::2]]).delete()  # every other id gone
    ranges = sweeps.id_ranges(inv.ActivityEvent, batch_rows=10, window_rows=4)
    sizes = [inv.ActivityEvent.objects.filter(pk__gte=lo, pk__lt=hi).count() for lo, hi, _ in ranges]
    assert sum(sizes) == 30 and len(ranges) == 3
    assert all(size == 10 for size in sizes)
    assert all(window == 8 for _, _, window in ranges)  # 4 rows at half density span 8 ids


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_big_tables_density_comes_from_the_planners_estimate_in_the_same_query(monkeypatch):
    from django.db import connection

    owner = f.subject()
    rows = [f.activity(owner, NOW) for _ in range(60)]
    inv.ActivityEvent.objects.filter(pk__in=[r.pk for r in rows[::2]]).delete()
    assert sweeps.id_ranges(inv.ActivityEvent, batch_rows=10, window_rows=4)  # counted
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_activityevent")  # reltuples = 30
    monkeypatch.setattr(sweeps, "ESTIMATE_ABOVE", 1)  # "big": the estimate, no count
    ranges = sweeps.id_ranges(inv.ActivityEvent, batch_rows=10, window_rows=4)
    assert len(ranges) == 3 and all(window == 8 for _, _, window in ranges)
    inv.ActivityEvent.objects.all().delete()
    assert sweeps.id_ranges(inv.ActivityEvent, batch_rows=10, window_rows=4) == []


@pytest.mark.django_db
def test_a_worker_that_lost_the_race_for_a_window_rolls_its_erasure_back(clock, settings, monkeypatch):
    """Two workers on one batch: the cursor only moves from the value a worker read, so a window is never
    erased (or counted) twice."""
    owner = f.activity_sweep_setup(settings, batch_rows=100, window_rows=5)
    records = [f.activity(owner, NOW - dt.timedelta(days=800)) for _ in range(10)]
    run = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.COMMAND)
    (batch_id,) = services.sweep_plan(run_id=run.pk)
    batch = SweepBatch.objects.get(pk=batch_id)
    real_target_for = sweeps.batch_target

    def other_worker_took_the_first_window(b):
        SweepBatch.objects.filter(pk=b.pk).update(cursor=b.cursor + b.window)
        return real_target_for(b)

    monkeypatch.setattr(sweeps, "batch_target", other_worker_took_the_first_window)
    services.sweep_batch_process(batch_id=batch_id)
    done = SweepBatch.objects.get(pk=batch_id)
    assert done.status == SweepBatch.Status.DONE
    first_window = {r.pk for r in records if r.pk < batch.lo + batch.window}
    left = set(inv.ActivityEvent.objects.values_list("pk", flat=True))
    assert left == first_window  # ours was rolled back: the (simulated) other worker owns that window
    assert done.erased == 10 - len(first_window)


@pytest.mark.django_db
def test_bulk_erasure_takes_the_fast_path_no_collector_no_signals_constant_queries(
    clock, settings, django_assert_num_queries
):
    from django.db import connection
    from django.db.models.signals import post_delete, pre_delete
    from django.test.utils import CaptureQueriesContext

    settings.RETENTION_SWEEP_WINDOW_ROWS = 1000
    f.only_these_schedules()
    f.schedule("activity", months=24)
    fired = []

    def receiver(**kwargs):
        fired.append(kwargs["instance"].pk)

    pre_delete.connect(receiver, sender=inv.ActivityEvent)
    post_delete.connect(receiver, sender=inv.ActivityEvent)
    try:
        owner = f.subject()
        for _ in range(5):
            f.activity(owner, NOW - dt.timedelta(days=800))
        with CaptureQueriesContext(connection) as few:
            assert f.sweep().erased_count == 5
        for _ in range(200):
            f.activity(owner, NOW - dt.timedelta(days=800))
        with django_assert_num_queries(len(few.captured_queries)):
            assert f.sweep().erased_count == 200
    finally:
        pre_delete.disconnect(receiver, sender=inv.ActivityEvent)
        post_delete.disconnect(receiver, sender=inv.ActivityEvent)
    assert fired == []  # deleted in one statement per window: no per-row Collector, no signals
