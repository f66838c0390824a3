"""§1798.83-84 rules as data: the 30/150-day deadline, once per calendar year, the 90-day cure clock."""

import datetime as dt

import pytest

from disclosures import rules, services
from disclosures.models import DisclosureNoticeRequest

from .factories import customers

RECEIVED = dt.datetime(2026, 2, 10, 9, 30, tzinfo=dt.UTC)


def test_a_request_at_a_designated_address_is_due_in_30_days():
    assert rules.notice_1798_83_due(
        received_at=RECEIVED, at_designated_address=True
    ) == RECEIVED + dt.timedelta(days=30)


def test_a_request_received_elsewhere_is_due_in_at_most_150_days():
    due = rules.notice_1798_83_due(received_at=RECEIVED, at_designated_address=False)
    assert due == dt.datetime(2026, 7, 10, 9, 30, tzinfo=dt.UTC)
    assert (due - RECEIVED).days == 150


def test_the_deadline_rules_are_a_cited_table():
    assert {(r.at_designated_address, r.days) for r in rules.DEADLINE_RULES} == {(True, 30), (False, 150)}
    assert all(r.source == "Cal. Civ. Code §1798.83(b)(1)" for r in rules.DEADLINE_RULES)


def test_the_feature_is_required_from_20_employees_and_when_the_count_is_unknown():
    assert not rules.feature_required(19)
    assert rules.feature_required(20)
    assert rules.feature_required(None)


def test_the_cure_clock_is_90_days():
    assert rules.cure_deadline(RECEIVED) == RECEIVED + dt.timedelta(days=90)


def test_year_bounds_are_california_calendar_years():
    start, end = rules.year_bounds(2025)
    assert start == dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_second_request_by_the_same_customer_in_a_calendar_year_is_flagged(outbox):
    alice, bob = customers(2)
    services.notice_1798_83_deliver(subject_id=alice.pk, year=2025, case_reference="case-1")
    assert rules.prior_1798_83_requests(subject_id=alice.pk, year=2025) == 1
    assert rules.prior_1798_83_requests(subject_id=alice.pk, year=2025, exclude_reference="case-1") == 0
    assert rules.is_repeat_request(subject_id=alice.pk, year=2025, exclude_reference="case-2")

    services.notice_1798_83_deliver(subject_id=alice.pk, year=2025, case_reference="case-2")
    first, second = DisclosureNoticeRequest.objects.filter(subject=alice).order_by("id")
    assert not first.repeat_in_year and second.repeat_in_year
    assert rules.prior_1798_83_requests(subject_id=alice.pk, year=2025, exclude_reference="case-2") == 1

    # Another year, another customer: not repeats.
    services.notice_1798_83_deliver(subject_id=alice.pk, year=2024, case_reference="case-3")
    services.notice_1798_83_deliver(subject_id=bob.pk, year=2025, case_reference="case-4")
    assert not DisclosureNoticeRequest.objects.get(case_reference="case-3").repeat_in_year
    assert not DisclosureNoticeRequest.objects.get(case_reference="case-4").repeat_in_year
    assert rules.prior_1798_83_requests(subject_id=bob.pk, year=2025) == 1


@pytest.mark.django_db
def test_a_retry_of_the_same_case_is_not_a_second_request(outbox):
    (carol,) = customers(1)
    services.notice_1798_83_deliver(subject_id=carol.pk, year=2025, case_reference="case-9")
    services.notice_1798_83_deliver(subject_id=carol.pk, year=2025, case_reference="case-9")
    assert rules.prior_1798_83_requests(subject_id=carol.pk, year=2025) == 1
