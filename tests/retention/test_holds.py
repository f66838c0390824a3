"""Held records are never erased by a sweep, whatever the schedules, the holds and the clock say."""

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import models as inv
from retention.expiry import Period
from retention.models import ExceptionCode, LegalHold
from retention.services import legal_hold_place, legal_hold_release

from . import factories as f

BASE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
MODELS = {"activity": inv.ActivityEvent, "marketing": inv.MarketingPreference}


@pytest.fixture
def clock():
    with time_machine.travel(BASE, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_a_sweep_keeps_a_held_subjects_expired_records_and_reports_them(clock):
    f.only_these_schedules()
    f.schedule("activity", months=24)
    held, free = f.subject(), f.subject()
    kept = f.activity(held, BASE - dt.timedelta(days=900))
    gone = f.activity(free, BASE - dt.timedelta(days=900))
    hold = legal_hold_place(subject_id=held.pk, reason="Litigation", owner="Legal", case_reference="case-9")
    run = f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=kept.pk).exists()
    assert not inv.ActivityEvent.objects.filter(pk=gone.pk).exists()
    assert run.summary["activity"] == {"erased": 1, "kept": 1, "errors": 0}
    assert run.certificate.summary["kept"] == [
        {"model": "inventory.ActivityEvent", "pk": kept.pk, "hold": str(hold.public_id),
         "code": ExceptionCode.LEGAL_CLAIMS, "case_reference": "case-9"}
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_category_hold_stops_the_sweep_for_that_category_only(clock):
    f.only_these_schedules()
    f.schedule("activity", months=24)
    f.schedule("marketing", months=24)
    owner = f.subject()
    activity = f.activity(owner, BASE - dt.timedelta(days=900))
    marketing = f.marketing(owner, BASE - dt.timedelta(days=900))
    legal_hold_place(category="activity", reason="Regulator inquiry", owner="Legal")
    run = f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=activity.pk).exists()
    assert not inv.MarketingPreference.objects.filter(pk=marketing.pk).exists()
    assert run.kept_count == 1 and run.erased_count == 1


@pytest.mark.django_db
def test_a_hold_protects_through_its_last_day_and_not_after(clock):
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    record = f.activity(owner, BASE - dt.timedelta(days=900))
    legal_hold_place(subject_id=owner.pk, reason="Dispute", owner="Legal", ends_on=BASE.date())
    clock.move_to(BASE.replace(hour=23, minute=59, second=59))
    f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=record.pk).exists()
    clock.move_to(BASE + dt.timedelta(days=1))
    f.sweep()
    assert not inv.ActivityEvent.objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
def test_records_released_from_a_hold_go_at_the_next_sweep(clock):
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    record = f.activity(owner, BASE - dt.timedelta(days=900))
    hold = legal_hold_place(subject_id=owner.pk, reason="Dispute", owner="Legal")
    f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=record.pk).exists()
    legal_hold_release(hold_id=hold.pk, reason="Settled")
    f.sweep()
    assert not inv.ActivityEvent.objects.filter(pk=record.pk).exists()


_records = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(sorted(MODELS)), st.integers(0, 1500)),
    min_size=1,
    max_size=12,
)
_holds = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 2)),
        st.one_of(st.none(), st.sampled_from(sorted(MODELS))),
        st.booleans(),  # released before the sweep
    ).filter(lambda h: h[0] is not None or h[1] is not None),
    max_size=3,
)
_periods = st.tuples(st.integers(0, 36), st.integers(0, 60)).filter(lambda p: p != (0, 0))


@pytest.mark.django_db
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    records=_records,
    holds=_holds,
    periods=st.fixed_dictionaries({c: _periods for c in MODELS}),
    clock_days=st.integers(0, 1000),
)
def test_held_records_survive_any_schedule_hold_and_clock(records, holds, periods, clock_days):
    with transaction.atomic():
        now = BASE + dt.timedelta(days=clock_days)
        with time_machine.travel(BASE, tick=False):
            f.only_these_schedules()
            for code, (months, days) in periods.items():
                f.schedule(code, months=months, days=days)
            people = [f.subject() for _ in range(3)]
            made = []
            for who, code, age in records:
                collected = BASE - dt.timedelta(days=age, minutes=age)
                row = (f.activity if code == "activity" else f.marketing)(people[who], collected)
                made.append((row.pk, people[who].pk, code, collected))
            placed = []
            for who, code, released in holds:
                hold = legal_hold_place(
                    subject_id=people[who].pk if who is not None else None,
                    category=code,
                    reason="Property test",
                    owner="Legal",
                )
                if released:
                    legal_hold_release(hold_id=hold.pk, reason="done")
                else:
                    placed.append(hold)
        with time_machine.travel(now, tick=False):
            run = f.sweep()

        def is_held(subject_id: int, code: str) -> bool:
            return any(
                h.subject_id in (None, subject_id) and (h.category_id is None or h.category.code == code)
                for h in placed
            )

        expected_kept = 0
        for pk, subject_id, code, collected in made:
            months, days = periods[code]
            expired = Period(months=months, days=days).is_expired(collected, now)
            exists = MODELS[code].objects.filter(pk=pk).exists()
            if is_held(subject_id, code):
                assert exists, "a held record was erased"
                expected_kept += expired
            else:
                assert exists != expired, "expiry decided wrongly"
        assert run.kept_count == expected_kept
        assert LegalHold.objects.count() == len(holds)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_expiry_releases_only_holds_past_their_end_date(clock):
    """`legal_holds_expire`: ended holds are released (reason "expired"); open-ended, current and
    already released holds are left as they are."""
    from retention.services import legal_holds_expire

    subject = f.subject()
    ended = legal_hold_place(subject_id=subject.pk, reason="Audit", owner="Legal", ends_on=BASE.date())
    current = legal_hold_place(
        subject_id=subject.pk, reason="Audit", owner="Legal", ends_on=BASE.date() + dt.timedelta(days=30)
    )
    open_ended = legal_hold_place(subject_id=subject.pk, reason="Litigation", owner="Legal")
    by_hand = legal_hold_place(subject_id=subject.pk, reason="Audit", owner="Legal", ends_on=BASE.date())
    legal_hold_release(hold_id=by_hand.pk, reason="Done early", actor="Legal")
    clock.move_to(BASE + dt.timedelta(days=2))
    assert legal_holds_expire() == [ended.pk]
    assert legal_holds_expire() == []
    hold = {h.pk: h for h in LegalHold.objects.all()}
    assert hold[ended.pk].release_reason == "expired" and hold[ended.pk].released_by == "legal hold expiry"
    assert hold[current.pk].released_at is None and hold[open_ended.pk].released_at is None
    assert hold[by_hand.pk].release_reason == "Done early"


# 3 March 2026, 17:00 in Los Angeles = 4 March, 01:00 UTC: the UTC date has already moved on.
PACIFIC_EVENING = dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_hold_ending_today_still_applies_on_a_pacific_evening(clock, settings):
    """A hold's last day is the business's day (PRIVACY_TIME_ZONE, as for request dates): read in UTC, a
    hold ending on 3 March would be lifted and its records erased at 17:00 Pacific on 3 March."""
    from retention.services import legal_holds_expire

    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    record = f.activity(owner, BASE - dt.timedelta(days=900))
    hold = legal_hold_place(subject_id=owner.pk, reason="Dispute", owner="Legal", ends_on=dt.date(2026, 3, 3))
    clock.move_to(PACIFIC_EVENING)
    assert legal_holds_expire() == []
    f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=record.pk).exists(), "erased on the hold's last day"
    clock.move_to(PACIFIC_EVENING + dt.timedelta(hours=8))  # 4 March, 01:00 Pacific
    assert legal_holds_expire() == [hold.pk]
    f.sweep()
    assert not inv.ActivityEvent.objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
def test_a_hold_may_end_today_in_the_business_time_zone(clock, settings):
    """At 17:00 Pacific on 3 March an officer may still set a hold to end on 3 March (UTC says 4 March)."""
    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    clock.move_to(PACIFIC_EVENING)
    hold = legal_hold_place(
        subject_id=f.subject().pk, reason="Audit", owner="Legal", ends_on=dt.date(2026, 3, 3)
    )
    assert hold.ends_on == dt.date(2026, 3, 3)


@pytest.mark.django_db
@pytest.mark.postgres  # the one-statement window is PostgreSQL's; elsewhere each window reads the holds
def test_a_hold_placed_between_two_windows_of_a_sweep_is_honoured_by_the_next_window(
    clock, settings, monkeypatch
):
    """Issue 19: the window's one statement reads the holds itself (no per-window hold query), and still
    a hold committed while a batch is running protects the subject from the very next window on."""
    from retention.services import sweeps

    settings.RETENTION_SWEEP_BATCH_ROWS = 100
    settings.RETENTION_SWEEP_WINDOW_ROWS = 4
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner, other = f.subject(), f.subject()
    rows = [f.activity(owner if i % 2 else other, BASE - dt.timedelta(days=900)) for i in range(12)]
    real = sweeps.sweep_window
    windows: list[int] = []
    holds: list[LegalHold] = []

    def hold_after_first_window(target, run, *, lo, hi, **kwargs):
        assert kwargs.get("batch") is not None  # the one-statement window (sweep_window.py)
        result = real(target, run, lo=lo, hi=hi, **kwargs)
        windows.append(lo)
        if len(windows) == 1:  # between the first and the second window of the one batch
            holds.append(legal_hold_place(subject_id=owner.pk, reason="Litigation", owner="Legal"))
        return result

    monkeypatch.setattr(sweeps, "sweep_window", hold_after_first_window)
    run = f.sweep()

    assert len(windows) == 3 and run.batches.count() == 1
    first_window = {r.pk for r in rows if r.pk < windows[1]}
    held_later = {r.pk for r in rows if r.pk >= windows[1] and r.subject_id == owner.pk}
    assert first_window and held_later
    left = set(inv.ActivityEvent.objects.values_list("pk", flat=True))
    assert left == held_later  # the first window went before the hold; every later owner row was kept
    batch = run.batches.get()
    assert batch.erased == 12 - len(held_later) and batch.kept == len(held_later)
    assert sorted(row["pk"] for row in batch.kept_detail) == sorted(held_later)
    assert {row["hold"] for row in batch.kept_detail} == {str(holds[0].public_id)}
    assert run.summary["activity"] == {"erased": 12 - len(held_later), "kept": len(held_later), "errors": 0}


@pytest.mark.django_db
def test_a_category_hold_outranks_a_subject_hold_in_the_kept_list_as_before(clock):
    """The one-statement window names the same hold for a kept record as the per-statement path did: a
    category-wide hold first, else the subject's earliest."""
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    record = f.activity(owner, BASE - dt.timedelta(days=900))
    legal_hold_place(subject_id=owner.pk, reason="Litigation", owner="Legal")
    wide = legal_hold_place(category="activity", reason="Regulator inquiry", owner="Legal")
    run = f.sweep()
    assert inv.ActivityEvent.objects.filter(pk=record.pk).exists()
    assert [(r["pk"], r["hold"]) for r in run.certificate.summary["kept"]] == [
        (record.pk, str(wide.public_id))
    ]
