"""`consent_is_current` is one indexed query; expired consent counts as withdrawn; bulk checks are bulk."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from consent.models import Purpose
from consent.selectors import (
    consent_is_current,
    consent_overview,
    consent_status_at,
    subjects_opted_out_of_anything_by,
    subjects_with_consent_at,
    subjects_without_consent,
)
from tests.consent.factories import grant, withdraw
from tests.factories import DataSubjectFactory


@pytest.mark.django_db
def test_consent_is_current_answers_in_one_query(django_assert_num_queries):
    subject = DataSubjectFactory()
    grant(subject)
    with django_assert_num_queries(1):
        assert consent_is_current(subject_id=subject.pk, purpose="marketing_email") is True
    with django_assert_num_queries(1):
        assert consent_is_current(subject_id=subject.pk, purpose="marketing_phone") is False


@pytest.mark.postgres
@pytest.mark.django_db
def test_consent_is_current_probes_the_subject_purpose_unique_index():
    from django.db import connection

    from consent.selectors import IS_CURRENT_SQL

    subject = DataSubjectFactory()
    grant(subject)
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL enable_seqscan = off"
        )  # tiny tables: make the planner show its index choice
        cursor.execute("EXPLAIN " + IS_CURRENT_SQL, ["marketing_email", subject.pk, timezone.now()])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "consent_state_subject_purpose" in plan
    assert "consent_purpose_code" in plan


@pytest.mark.django_db
def test_withdrawal_and_unknown_purposes_are_not_current():
    subject = DataSubjectFactory()
    grant(subject)
    withdraw(subject)
    assert consent_is_current(subject_id=subject.pk, purpose="marketing_email") is False
    assert consent_is_current(subject_id=subject.pk, purpose="no_such_purpose") is False


@pytest.mark.django_db
def test_required_purposes_need_no_consent():
    subject = DataSubjectFactory()
    assert consent_is_current(subject_id=subject.pk, purpose="transactional") is True
    assert subjects_without_consent(subject_ids=[subject.pk], purpose="transactional") == set()


@pytest.mark.django_db
def test_expired_consent_counts_as_withdrawn():
    subject = DataSubjectFactory()
    lifetime = Purpose.objects.get(code="analytics_cookies").consent_lifetime_days
    given = timezone.now()
    grant(subject, "analytics_cookies", at=given)
    assert consent_is_current(subject_id=subject.pk, purpose="analytics_cookies")
    with time_machine.travel(given + dt.timedelta(days=lifetime, seconds=1)):
        assert not consent_is_current(subject_id=subject.pk, purpose="analytics_cookies")
        assert subjects_without_consent(subject_ids=[subject.pk], purpose="analytics_cookies") == {subject.pk}
        assert [
            s.status for s in consent_overview(subject_id=subject.pk) if s.purpose.code == "analytics_cookies"
        ] == ["expired"]


@pytest.mark.django_db
def test_subjects_without_consent_returns_exactly_those_without_a_current_grant(
    django_assert_max_num_queries,
):
    granted = [DataSubjectFactory() for _ in range(3)]
    withdrawn = DataSubjectFactory()
    never = DataSubjectFactory()
    for s in granted:
        grant(s)
    grant(withdrawn)
    withdraw(withdrawn)
    ids = [s.pk for s in granted] + [withdrawn.pk, never.pk]
    with django_assert_max_num_queries(2):
        assert subjects_without_consent(subject_ids=ids, purpose="marketing_email") == {
            withdrawn.pk,
            never.pk,
        }


@pytest.mark.django_db
def test_consent_status_at_answers_for_a_past_moment_from_the_ledger():
    subject = DataSubjectFactory()
    t0 = timezone.now() - dt.timedelta(days=10)
    grant(subject, at=t0)
    withdraw(subject)
    assert consent_status_at(subject_id=subject.pk, purpose="marketing_email", at=t0 + dt.timedelta(days=1))
    assert not consent_status_at(
        subject_id=subject.pk, purpose="marketing_email", at=t0 - dt.timedelta(days=1)
    )
    assert not consent_status_at(subject_id=subject.pk, purpose="marketing_email", at=timezone.now())


@pytest.mark.postgres
@pytest.mark.django_db
def test_bulk_ledger_checks_cost_one_query_however_many_subjects_are_asked(django_assert_max_num_queries):
    """A disclosure batch asks about up to a million subjects: the ledger is read in one statement (the
    ids as one array), not one statement per 5,000 ids with a placeholder per id."""
    granted, withdrawn = DataSubjectFactory(), DataSubjectFactory()
    grant(granted)
    grant(withdrawn, at=timezone.now() - dt.timedelta(days=2))
    withdraw(withdrawn)
    unknown = list(range(10_000_000, 10_012_000))  # 12,000 ids with no events: more than two old chunks
    ids = [granted.pk, withdrawn.pk, *unknown]
    now = timezone.now()
    with django_assert_max_num_queries(2):  # the ledger, then "is anything suppressed?"
        assert subjects_opted_out_of_anything_by(subject_ids=ids, at=now) == {withdrawn.pk}
    with django_assert_max_num_queries(2):  # the purpose, then the ledger
        assert subjects_with_consent_at(subject_ids=ids, purpose="marketing_email", at=now) == {granted.pk}
    earlier = now - dt.timedelta(days=1)  # judged at a past moment: the withdrawal had not happened yet
    assert subjects_opted_out_of_anything_by(subject_ids=ids, at=earlier) == set()
    assert subjects_with_consent_at(subject_ids=ids, purpose="marketing_email", at=earlier) == {withdrawn.pk}
