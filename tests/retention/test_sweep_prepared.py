"""Issue 19: a sweep's window statement is a server-side prepared statement, planned once and executed by
every window of the run (retention/services/sweep_window.py)."""

import datetime as dt

import pytest
from django.db import connection

from inventory import models as inv

from . import factories as f

BASE = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def _window_statements() -> dict[str, tuple[int, int]]:
    """name -> (generic plans, custom plans) of this session's prepared window statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE name LIKE 'retention_window_%%'"
        )
        return {name: (generic, custom) for name, generic, custom in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_window_of_a_run_executes_the_same_prepared_statement(settings):
    owner = f.activity_sweep_setup(settings, batch_rows=8, window_rows=3)
    rows = [f.activity(owner, f.ago(days=900)) for _ in range(20)]
    young = f.activity(owner, f.ago(days=3))
    before = _window_statements()

    run = f.sweep()

    batches = list(run.batches.order_by("lo"))
    windows = sum(-(-(b.hi - b.lo) // b.window) for b in batches)
    assert len(batches) >= 2 and windows >= 6  # several batches, several windows each
    after = _window_statements()
    used = {
        name: (generic - before.get(name, (0, 0))[0], custom - before.get(name, (0, 0))[1])
        for name, (generic, custom) in after.items()
        if (generic, custom) != before.get(name)
    }
    # One statement for the whole run, one generic plan reused by each window, never re-planned per window.
    assert list(used.values()) == [(windows, 0)]
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == {young.pk}
    assert run.summary["activity"] == {"erased": len(rows), "kept": 0, "errors": 0}


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_provider_listing_protected_subjects_runs_the_windows_unprepared(settings, monkeypatch):
    """A plain list of ids is baked into the statement's text: preparing it would leave one prepared
    statement per window on a worker's long-lived connection, so such windows run as plain statements."""
    from retention import hooks

    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    f.only_these_schedules()
    f.schedule("activity", months=24)
    protected, other = f.subject(), f.subject()
    kept = [f.activity(protected, f.ago(days=900)) for _ in range(4)]
    for _ in range(4):
        f.activity(other, f.ago(days=900))
    monkeypatch.setattr(hooks, "_protected", [lambda: [protected.pk]])
    before = _window_statements()

    run = f.sweep()

    assert _window_statements() == before
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
    assert run.batches.get().kept_open_request == len(kept)


@pytest.mark.postgres
@pytest.mark.django_db
def test_with_server_side_binding_the_windows_run_unprepared(settings, monkeypatch):
    """The prepared path sends SET; EXECUTE; RESET in one message, which only client-side binding allows."""
    owner = f.activity_sweep_setup(settings, window_rows=3)
    for _ in range(5):
        f.activity(owner, f.ago(days=900))
    options = dict(connection.settings_dict.get("OPTIONS", {}), server_side_binding=True)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    before = _window_statements()

    run = f.sweep()

    assert _window_statements() == before
    assert not inv.ActivityEvent.objects.exists()
    assert run.summary["activity"] == {"erased": 5, "kept": 0, "errors": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_window_whose_statement_the_session_lost_prepares_it_again_and_erases(settings):
    """DEALLOCATE ALL / a pooler's DISCARD ALL between two runs on a kept connection: the next window
    fails with "prepared statement does not exist" once, prepares again at once (it runs in autocommit,
    so nothing was half done), and the run erases what it should."""
    owner = f.activity_sweep_setup(settings, window_rows=3)
    f.activity(owner, f.ago(days=900))
    f.sweep()  # prepares the window statement on this connection
    assert _window_statements()
    expired = [f.activity(owner, f.ago(days=900)) for _ in range(4)]
    young = f.activity(owner, f.ago(days=3))
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")

    run = f.sweep()

    assert run.summary["activity"] == {"erased": len(expired), "kept": 0, "errors": 0}
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == {young.pk}
    assert _window_statements()  # prepared again


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_batch_is_stamped_finished_after_its_last_window_ran_not_when_it_started(settings):
    """The bench's "closing" time (last batch finished -> certificate) must not include the last window:
    the folded statement stamps finished_at after its erasure, later than the journal row's `at` (the
    moment the window began)."""
    from retention.models import ErasureJournal

    owner = f.activity_sweep_setup(settings, window_rows=3)
    for _ in range(7):
        f.activity(owner, f.ago(days=900))

    run = f.sweep()

    batch = run.batches.get()
    last_window = ErasureJournal.objects.filter(sweep_run=run).order_by("at").last()
    assert batch.status == "done" and batch.erased == 7
    assert batch.finished_at > last_window.at
    assert batch.finished_at <= run.finished_at


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_run_builds_a_targets_window_statement_once_for_all_its_batches(settings, monkeypatch):
    """Building the statement from the ORM costs ~13 ms of Python: one build per (run, target), not per batch."""
    from retention.services import sweep_window

    built = []
    real_parts = sweep_window._parts
    monkeypatch.setattr(sweep_window, "_parts", lambda *a, **kw: built.append(1) or real_parts(*a, **kw))
    owner = f.activity_sweep_setup(settings, batch_rows=6, window_rows=3)
    for _ in range(20):
        f.activity(owner, f.ago(days=900))

    run = f.sweep()

    assert run.batches.count() >= 3
    assert len(built) == 1
    assert run.summary["activity"] == {"erased": 20, "kept": 0, "errors": 0}
    # A new run builds its own (its clock is a parameter baked into the statement).
    f.activity(owner, f.ago(days=900))
    assert f.sweep().erased_count == 1 and len(built) == 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_hold_placed_between_batches_is_honoured_by_the_cached_statement(settings):
    from retention import services
    from retention.models import SweepRun

    settings.RETENTION_SWEEP_BATCH_ROWS = 6
    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    f.only_these_schedules()
    f.schedule("activity", months=24)
    alice, bob = f.subject(), f.subject()
    rows = [f.activity(alice if i % 2 else bob, f.ago(days=900)) for i in range(18)]
    run = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.COMMAND)
    first, *rest = services.sweep_plan(run_id=run.pk)
    services.sweep_batch_process(batch_id=first)
    gone_before = set(inv.ActivityEvent.objects.values_list("pk", flat=True)) ^ {r.pk for r in rows}

    services.legal_hold_place(subject_id=alice.pk, reason="Litigation", owner="Legal")
    for batch_id in rest:
        services.sweep_batch_process(batch_id=batch_id)

    left = set(inv.ActivityEvent.objects.values_list("pk", flat=True))
    assert left == {r.pk for r in rows if r.subject_id == alice.pk} - gone_before
    run.refresh_from_db()
    assert run.status == "done" and run.kept_count == len(left) > 0
