"""Expiry and re-consent: expired consent blocks marketing; the daily sweep lists whom to ask again."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from consent.models import ReconsentRequest
from consent.schedules import SCHEDULES
from consent.selectors import consent_is_current
from consent.services import reconsent_requests_open
from consent.tasks import consent_expiry_sweep
from tests.consent.factories import grant, withdraw
from tests.factories import DataSubjectFactory

LIFETIME = dt.timedelta(days=395)  # analytics_cookies, seeded


@pytest.mark.django_db
def test_the_sweep_opens_one_request_per_expired_consent_and_is_idempotent():
    expired, fresh = DataSubjectFactory(), DataSubjectFactory()
    now = timezone.now()
    grant(expired, "analytics_cookies", at=now - LIFETIME - dt.timedelta(days=1))
    grant(fresh, "analytics_cookies", at=now - dt.timedelta(days=1))
    grant(fresh, "marketing_email", at=now - dt.timedelta(days=4000))  # no lifetime: never expires
    assert reconsent_requests_open(batch_size=1) == 1
    assert reconsent_requests_open() == 0
    request = ReconsentRequest.objects.get()
    assert (request.subject_id, request.purpose.code, request.status) == (
        expired.pk,
        "analytics_cookies",
        "open",
    )
    assert not consent_is_current(subject_id=expired.pk, purpose="analytics_cookies")


@pytest.mark.django_db
def test_consent_given_again_resolves_the_request_and_a_withdrawal_dismisses_it():
    again, refuses = DataSubjectFactory(), DataSubjectFactory()
    old = timezone.now() - LIFETIME - dt.timedelta(days=3)
    for s in (again, refuses):
        grant(s, "analytics_cookies", at=old)
    reconsent_requests_open()
    grant(again, "analytics_cookies", channel="cookie_banner")
    withdraw(refuses, "analytics_cookies", channel="cookie_banner")
    statuses = dict(ReconsentRequest.objects.values_list("subject_id", "status"))
    assert statuses == {again.pk: "resolved", refuses.pk: "dismissed"}


@pytest.mark.django_db
def test_a_consent_that_expires_later_is_listed_when_the_sweep_runs_after_that():
    subject = DataSubjectFactory()
    given = timezone.now()
    grant(subject, "analytics_cookies", at=given)
    assert reconsent_requests_open() == 0
    with time_machine.travel(given + LIFETIME + dt.timedelta(hours=1)):
        assert consent_expiry_sweep.delay().get() == 1


def test_the_sweep_is_scheduled_daily():
    assert [s.task for s in SCHEDULES] == ["consent.expiry_sweep"]


# Real services only: on SQLite the transactional flush can't DELETE from the append-only ledger.
@pytest.mark.postgres
@pytest.mark.redis
def test_the_expiry_sweep_runs_on_a_real_worker(celery_worker):
    subject = DataSubjectFactory()
    grant(subject, "analytics_cookies", at=timezone.now() - LIFETIME - dt.timedelta(days=1))
    assert consent_expiry_sweep.delay().get(timeout=30) == 1
    assert ReconsentRequest.objects.filter(subject=subject, status="open").exists()
