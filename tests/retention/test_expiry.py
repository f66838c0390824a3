"""A record expires exactly at anchor + period: the same instant in Python, in SQL, and in a sweep."""

import datetime as dt

import pytest
import time_machine
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inventory.models import ActivityEvent, UserAccount
from retention.expiry import BAND, Period, expired_q

from . import factories as f

UTC = dt.UTC


def _at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_months_are_calendar_months_clamped_to_the_last_day_then_days_are_added():
    assert Period(months=1).expires_at(_at(2023, 1, 31, 10)) == _at(2023, 2, 28, 10)
    assert Period(months=1).expires_at(_at(2024, 1, 31, 10)) == _at(2024, 2, 29, 10)
    assert Period(months=12).expires_at(_at(2024, 2, 29, 8)) == _at(2025, 2, 28, 8)
    assert Period(months=1, days=3).expires_at(_at(2023, 1, 31)) == _at(2023, 3, 3)
    assert Period(months=84).expires_at(_at(2020, 6, 15, 9, 30)) == _at(2027, 6, 15, 9, 30)


def test_a_record_is_expired_at_the_instant_and_not_one_microsecond_before():
    period = Period(months=24)
    anchor = _at(2024, 3, 10, 12, 0, 0, 250000)
    instant = period.expires_at(anchor)
    assert period.is_expired(anchor, instant)
    assert not period.is_expired(anchor, instant - dt.timedelta(microseconds=1))
    assert not period.is_expired(None, instant)  # no anchor (say, an open account): never


def test_a_period_must_be_positive():
    with pytest.raises(ValueError):
        Period(months=0, days=0)


_instants = st.datetimes(
    min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(anchor=_instants, now=_instants, months=st.integers(0, 120), days=st.integers(0, 400))
@example(anchor=_at(2023, 1, 30, 0, 0), now=_at(2023, 2, 28, 12), months=1, days=0)
@example(anchor=_at(2023, 1, 29, 23, 0), now=_at(2023, 2, 28, 12), months=1, days=0)
def test_the_sql_bounds_bracket_the_exact_definition(anchor, now, months, days):
    """Every anchor <= L has expired and none after L + BAND has, so only the band needs the exact check."""
    if months == 0 and days == 0:
        days = 1
    period = Period(months=months, days=days)
    lower = period.lower_bound(now)
    if anchor <= lower:
        assert period.is_expired(anchor, now)
    if anchor > lower + BAND:
        assert not period.is_expired(anchor, now)


# Anchors around month ends, leap days and microsecond edges, where clamping makes cutoffs inexact.
TRICKY_ANCHORS = [
    _at(2023, 1, 29, 23, 59, 59, 999999),
    _at(2023, 1, 30, 0, 0),
    _at(2023, 1, 31, 10, 0, 0, 500000),
    _at(2024, 1, 31, 0, 0),
    _at(2024, 2, 29, 12, 0),
    _at(2023, 3, 31, 10, 0, 0, 1),
    _at(2023, 5, 31, 23, 59, 59),
    _at(2023, 12, 31, 23, 59, 59, 999999),
    _at(2024, 8, 31, 6, 30),
    _at(2024, 6, 15, 9, 0),
]
PERIODS = [Period(months=1), Period(months=1, days=3), Period(months=24), Period(days=30), Period(months=13)]


@pytest.mark.django_db
@pytest.mark.parametrize("period", PERIODS, ids=str)
def test_the_database_filter_matches_the_python_definition_to_the_microsecond(period):
    owner = f.subject()
    rows = {f.activity(owner, anchor).pk: anchor for anchor in TRICKY_ANCHORS}
    clocks = {period.expires_at(a) + dt.timedelta(microseconds=d) for a in TRICKY_ANCHORS for d in (-1, 0, 1)}
    for now in sorted(clocks):
        found = set(
            ActivityEvent.objects.filter(pk__in=rows)
            .filter(expired_q("collected_at", period, now))
            .values_list("pk", flat=True)
        )
        expected = {pk for pk, anchor in rows.items() if period.is_expired(anchor, now)}
        assert found == expected, f"at {now.isoformat()}"


@pytest.mark.django_db
def test_a_null_anchor_never_expires_in_the_database():
    owner = f.subject()
    open_account = f.account(owner, collected_at=_at(2001, 1, 1))
    closed = f.account(owner, collected_at=_at(2001, 1, 1), closed_at=_at(2002, 1, 1))
    expired = UserAccount.objects.filter(expired_q("closed_at", Period(months=1), _at(2030, 1, 1)))
    assert list(expired.values_list("pk", flat=True)) == [closed.pk]
    assert open_account.pk not in expired.values_list("pk", flat=True)


@pytest.mark.django_db
def test_a_sweep_erases_a_record_at_its_expiry_instant_and_not_a_microsecond_earlier():
    f.only_these_schedules()
    f.schedule("activity", months=24)
    owner = f.subject()
    anchor = _at(2024, 2, 29, 13, 45, 7, 123456)
    record = f.activity(owner, anchor)
    instant = _at(2026, 2, 28, 13, 45, 7, 123456)  # 29 Feb + 24 months = 28 Feb (clamped)
    with time_machine.travel(instant - dt.timedelta(microseconds=1), tick=False):
        early = f.sweep()
    assert ActivityEvent.objects.filter(pk=record.pk).exists()
    assert early.erased_count == 0
    with time_machine.travel(instant, tick=False):
        on_time = f.sweep()
    assert not ActivityEvent.objects.filter(pk=record.pk).exists()
    assert on_time.erased_count == 1
