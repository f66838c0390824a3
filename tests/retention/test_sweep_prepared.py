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
    settings.RETENTION_SWEEP_BATCH_ROWS = 8
    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
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
    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
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
@pytest.mark.django_db
def test_a_batch_is_stamped_finished_after_its_last_window_ran_not_when_it_started(settings):
    """The bench's "closing" time (last batch finished -> certificate) must not include the last window:
    the folded statement stamps finished_at after its erasure, later than the journal row's `at` (the
    moment the window began)."""
    from retention.models import ErasureJournal

    settings.RETENTION_SWEEP_WINDOW_ROWS = 3
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    for _ in range(7):
        f.activity(owner, f.ago(days=900))

    run = f.sweep()

    batch = run.batches.get()
    last_window = ErasureJournal.objects.filter(sweep_run=run).order_by("at").last()
    assert batch.status == "done" and batch.erased == 7
    assert batch.finished_at > last_window.at
    assert batch.finished_at <= run.finished_at
