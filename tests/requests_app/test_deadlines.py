"""Every deadline rule, at month ends, across weekends and US federal holidays (time moved with time-machine)."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from requests_app import deadlines
from requests_app.deadlines import (
    add_business_days,
    add_months,
    extended_due,
    federal_holidays,
    respond_by,
    rule_for,
)
from requests_app.models import Regime, RequestType, Status
from requests_app.selectors import case_deadlines, cases_due_within, cases_overdue

from .factories import make_case


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31 February: last day of the month
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # year end
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_calendar_months_end_on_the_same_day_or_the_months_last_day(start, months, expected):
    assert add_months(start, months) == expected


def test_gdpr_is_one_month_and_extension_counts_three_months_from_receipt():
    rule = rule_for(regime=Regime.GDPR)
    assert respond_by(rule, date(2026, 1, 31)) == date(2026, 2, 28)
    # receipt + 3 months (30 April), not due + 2 months (28 April): no days lost after February.
    assert extended_due(rule, date(2026, 1, 31)) == date(2026, 4, 30)
    assert rule.max_extensions == 1
    assert "Art. 12(3)" in rule.source


def test_ccpa_is_45_days_plus_45_once_and_acknowledgement_in_10_business_days():
    rule = rule_for(regime=Regime.CCPA, request_type=RequestType.ACCESS)
    assert respond_by(rule, date(2026, 1, 1)) == date(2026, 2, 15)
    assert extended_due(rule, date(2026, 1, 1)) == date(2026, 4, 1)
    assert rule.max_extensions == 1
    # Thu 1 Jan 2026 (a holiday): Jan 2, 5-9, 12-16 minus MLK (Mon 19 Jan) ... the 10th is Thu 15 Jan.
    assert deadlines.acknowledge_by(rule, date(2026, 1, 1)) == date(2026, 1, 15)
    assert "§7021(a)" in rule.acknowledge_source


def test_ccpa_opt_out_has_15_business_days():
    rule = rule_for(regime=Regime.CCPA, request_type=RequestType.OPT_OUT)
    # Fri 3 July 2026 is the observed Independence Day (4 July is a Saturday).
    assert add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 6)
    assert respond_by(rule, date(2026, 7, 1)) == date(2026, 7, 23)
    assert "§7026" in rule.source


def test_coppa_follows_the_policy_immediately_and_other_gets_a_month():
    assert respond_by(rule_for(regime=Regime.COPPA), date(2026, 3, 10)) == date(2026, 3, 11)
    assert "§9" in rule_for(regime=Regime.COPPA).source
    assert respond_by(rule_for(regime=Regime.OTHER), date(2026, 3, 31)) == date(2026, 4, 30)


def test_1798_83_rule_is_owned_by_disclosures():
    rule = rule_for(regime=Regime.CAL_1798_83, request_type=RequestType.NOTICE_1798_83)
    assert rule.respond is None
    assert "disclosures.rules" in rule.source
    with pytest.raises(ValueError):
        respond_by(rule, date(2026, 1, 1))


def test_every_rule_is_cited():
    for rule in [*deadlines.RULES.values(), deadlines.CCPA_OPT_OUT]:
        assert rule.source and ("§" in rule.source or "Art." in rule.source)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (
            2026,
            {
                date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25), date(2026, 6, 19),
                date(2026, 7, 3), date(2026, 9, 7), date(2026, 10, 12), date(2026, 11, 11), date(2026, 11, 26),
                date(2026, 12, 25),
            },
        ),
        (
            # 1 Jan 2022 was a Saturday: observed Fri 31 Dec 2021 (in 2021's list, not 2022's).
            2022,
            {
                date(2022, 1, 17), date(2022, 2, 21), date(2022, 5, 30), date(2022, 6, 20), date(2022, 7, 4),
                date(2022, 9, 5), date(2022, 10, 10), date(2022, 11, 11), date(2022, 11, 24), date(2022, 12, 26),
            },
        ),
    ],
)  # fmt: skip
def test_federal_holidays_match_opm_observed_dates(year, expected):
    assert set(federal_holidays(year)) == expected


def test_new_years_day_on_a_saturday_is_observed_the_friday_before():
    assert date(2021, 12, 31) in federal_holidays(2021)


def test_business_days_skip_weekends_and_holidays():
    # Fri 22 May 2026 + 1 business day: Sat, Sun, Memorial Day Mon 25 May skipped → Tue 26 May.
    assert add_business_days(date(2026, 5, 22), 1) == date(2026, 5, 26)
    # Wed 25 Nov 2026 + 2: Thanksgiving Thu 26 skipped → Fri 27, Mon 30.
    assert add_business_days(date(2026, 11, 25), 2) == date(2026, 11, 30)
    # Christmas Fri 25 Dec 2026, weekend, then Mon 28.
    assert add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert deadlines.business_days_between(date(2026, 12, 24), date(2026, 12, 28)) == 1


@pytest.mark.django_db
def test_case_received_on_january_31st_is_due_end_of_february_gdpr():
    with time_machine.travel(datetime(2026, 1, 31, 15, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.GDPR)
    assert case.first_due_on == case.due_on == date(2026, 2, 28)
    assert case.acknowledge_due_on is None


@pytest.mark.django_db
def test_ccpa_case_received_friday_before_a_long_weekend_gets_business_day_acknowledgement():
    # Fri 15 Jan 2026; MLK day Mon 19 Jan: 10 business days end Fri 30 Jan.
    with time_machine.travel(datetime(2026, 1, 15, 18, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)
    assert case.acknowledge_due_on == date(2026, 1, 30)
    assert case.due_on == date(2026, 3, 1)  # 45 calendar days, weekend or not
    assert case.acknowledged_at is not None


@pytest.mark.django_db
def test_overdue_and_due_within_seven_days_move_with_time():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.GDPR)  # due 2 April
    with time_machine.travel(datetime(2026, 3, 20, 9, 0, tzinfo=UTC), tick=False):
        assert case_deadlines(case).state == "on_track"
        assert not cases_due_within().filter(pk=case.pk).exists()
    with time_machine.travel(datetime(2026, 3, 27, 9, 0, tzinfo=UTC), tick=False):
        assert case_deadlines(case).state == "due_soon"
        assert cases_due_within().filter(pk=case.pk).exists()
    with time_machine.travel(datetime(2026, 4, 3, 9, 0, tzinfo=UTC), tick=False):
        assert case_deadlines(case).state == "overdue"
        assert cases_overdue().filter(pk=case.pk).exists()
        case.status = Status.COMPLETED
        assert case_deadlines(case).state == "closed"
