"""`manage.py sweep`: dry run, in-process run with progress, or queued for the workers; dashboard cards."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from inventory import models as inv
from retention.dashboard import dashboard_cards
from retention.dry_run import sweep_dry_run
from retention.models import RetentionSchedule, SweepRun
from retention.services import legal_hold_place

from . import factories as f


@pytest.mark.django_db
def test_sweep_now_runs_in_process_with_a_progress_bar_and_prints_the_totals():
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    f.activity(owner, f.ago(days=1))
    out, err = StringIO(), StringIO()
    call_command("sweep", "--now", stdout=out, stderr=err)
    assert "Erased 1, kept under legal hold 0, failed batches 0" in out.getvalue()
    assert "activity: 1 erased" in out.getvalue()
    assert "Sweeping" in err.getvalue() and "batch" in err.getvalue()  # tqdm on stderr
    assert inv.ActivityEvent.objects.count() == 1
    assert SweepRun.objects.get().trigger == SweepRun.Trigger.COMMAND


@pytest.mark.django_db
def test_sweep_without_flags_queues_the_run_for_the_workers(django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("sweep", stdout=out)
    assert "queued for the workers" in out.getvalue()
    assert len(callbacks) == 1  # the dispatch task, sent once the run is committed
    assert SweepRun.objects.get().status == SweepRun.Status.RUNNING


@pytest.mark.django_db
def test_sweep_limited_to_one_schedule():
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    f.marketing(owner, f.ago(days=900))
    marketing = RetentionSchedule.objects.get(category__code="marketing")
    call_command("sweep", "--now", "--schedule", str(marketing.pk), stdout=StringIO(), stderr=StringIO())
    assert inv.ActivityEvent.objects.count() == 1 and inv.MarketingPreference.objects.count() == 0


@pytest.mark.django_db
def test_sweep_refuses_inactive_schedules_with_a_message():
    schedule = RetentionSchedule.objects.first()
    RetentionSchedule.objects.update(active=False)
    with pytest.raises(CommandError, match="None of the chosen schedules is active"):
        call_command("sweep", "--now", "--schedule", str(schedule.pk), stdout=StringIO())


@pytest.mark.django_db
def test_dry_run_counts_held_records_and_minors():
    owner, child = f.subject(), f.subject(date_of_birth=dt.date(2016, 1, 1))
    f.activity(owner, f.ago(days=900))
    legal_hold_place(subject_id=owner.pk, reason="Dispute", owner="Legal")
    out = StringIO()
    call_command("sweep", "--dry-run", stdout=out)
    # The minor's records are counted in the total (issue 14 item 16: it is what the sweep will erase).
    minors = sweep_dry_run().minors_would_erase
    assert minors > 0
    assert (
        f"{minors} records would be erased now (0 expired, {minors} of 1 minor(s)), 1 kept under legal hold"
        in out.getvalue()
    )
    assert child.is_minor


@pytest.mark.django_db
def test_dashboard_cards_show_the_last_sweep_and_holds_in_force():
    request = RequestFactory().get("/admin/")
    cards = dashboard_cards(request)
    assert cards[0].value == "never" and cards[0].level == "warning"
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    legal_hold_place(category="company", reason="Audit", owner="Legal")
    f.sweep()
    last, holds = dashboard_cards(request)
    assert last.value == "1 erased" and last.level == "info"
    assert holds.value == 1


@pytest.mark.django_db
def test_the_sweep_is_a_daily_periodic_task_editable_in_django_celery_beat():
    from django_celery_beat.models import PeriodicTask

    from privacyops.celery import app
    from privacyops.schedules import default_schedules

    (schedule,) = [s for s in default_schedules() if s.task == "retention.sweep"]
    assert schedule.crontab.split()[2:] == ["*", "*", "*"]  # every day
    assert "retention.sweep" in app.tasks
    call_command("setup_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(name=schedule.name)
    assert task.task == "retention.sweep" and task.crontab.hour == "2"
