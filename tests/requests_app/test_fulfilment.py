"""Fulfilment attempts: heartbeat, the stuck-work watchdog, failures made visible, and the real worker."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from requests_app import services
from requests_app.models import FulfilmentAttempt, PrivacyRequest, RequestType, Status
from requests_app.tasks import fulfilment_watchdog, run_fulfilment
from tests.factories import make_full_subject

from .factories import make_case

State = FulfilmentAttempt.State


def _queued_access_case(officer):
    """A verified access case whose task message was never run (as if lost or the worker died)."""
    make_full_subject(email="alice@example.com")
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    services.request_verify_manually(
        case=case, method="phone", level="basic", reason="Called back", actor=officer
    )
    return PrivacyRequest.objects.get(pk=case.pk), FulfilmentAttempt.objects.get(case=case)


@pytest.mark.django_db
def test_a_dead_worker_is_detected_and_the_work_requeued(officer, django_capture_on_commit_callbacks):
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        case, attempt = _queued_access_case(officer)
        FulfilmentAttempt.objects.filter(pk=attempt.pk).update(
            state=State.RUNNING, started_at=start, heartbeat_at=start
        )
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        assert services.fulfilment_watchdog() == {
            "requeued": 0,
            "flagged": 0,
            "recipients_requeued": 0,
        }  # slow, not dead
    with (
        time_machine.travel(start + timedelta(minutes=36), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert fulfilment_watchdog.delay().get() == {"requeued": 1, "flagged": 0, "recipients_requeued": 0}
    attempt.refresh_from_db()
    assert attempt.state == State.ABANDONED
    retry = FulfilmentAttempt.objects.get(case=case, number=2)
    assert retry.state == State.SUCCEEDED
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert case.events.filter(kind="stuck", summary__contains="re-queued as attempt 2").exists()


@pytest.mark.django_db
def test_a_message_never_picked_up_is_requeued(officer, django_capture_on_commit_callbacks):
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        case, attempt = _queued_access_case(officer)
    with (
        time_machine.travel(start + timedelta(minutes=61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.fulfilment_watchdog()["requeued"] == 1
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED


@pytest.mark.django_db
def test_after_the_last_attempt_the_case_is_flagged_with_the_reason(officer, settings):
    settings.REQUESTS_MAX_FULFILMENT_ATTEMPTS = 1
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        case, attempt = _queued_access_case(officer)
        FulfilmentAttempt.objects.filter(pk=attempt.pk).update(state=State.RUNNING, heartbeat_at=start)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert services.fulfilment_watchdog() == {"requeued": 0, "flagged": 1, "recipients_requeued": 0}
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS
    assert "stopped reporting 1 times; needs an officer" in case.stuck_reason
    # visible in the admin filter, and an officer can start it again
    from requests_app.selectors import cases_stuck

    assert list(cases_stuck()) == [case]
    new = services.request_fulfil(case=case, actor=officer)
    assert new.number == 2
    assert PrivacyRequest.objects.get(pk=case.pk).stuck_reason == ""


@pytest.mark.django_db
def test_a_refused_fulfilment_is_not_retried_and_flags_the_case(officer, monkeypatch):
    case, attempt = _queued_access_case(officer)

    def refuse(case, actor, heartbeat):
        raise ValidationError("Package refused for a test reason")

    monkeypatch.setitem(services.HANDLERS, FulfilmentAttempt.Action.ACCESS_PACKAGE, refuse)
    assert run_fulfilment.delay(attempt.pk).get() == "failed"
    attempt.refresh_from_db()
    assert (attempt.state, attempt.error) == (State.FAILED, "Package refused for a test reason")
    assert "refused" in PrivacyRequest.objects.get(pk=case.pk).stuck_reason


@pytest.mark.django_db
def test_a_crashing_fulfilment_retries_then_gives_up_visibly(officer, monkeypatch):
    case, attempt = _queued_access_case(officer)

    def crash(case, actor, heartbeat):
        raise OSError("disk full for alice@example.com")

    monkeypatch.setitem(services.HANDLERS, FulfilmentAttempt.Action.ACCESS_PACKAGE, crash)
    result = run_fulfilment.apply(args=[attempt.pk], retries=3)
    assert result.get() == "failed"
    attempt.refresh_from_db()
    assert attempt.state == State.FAILED
    assert attempt.error == "OSError"  # the type only: exception text may carry personal data
    stuck = PrivacyRequest.objects.get(pk=case.pk).stuck_reason
    assert "failed after retries" in stuck and "alice" not in stuck


@pytest.mark.django_db
def test_a_second_delivery_of_the_same_task_does_not_run_twice(officer, django_capture_on_commit_callbacks):
    case, attempt = _queued_access_case(officer)
    assert run_fulfilment.delay(attempt.pk).get() == State.SUCCEEDED
    assert run_fulfilment.delay(attempt.pk).get() == State.SUCCEEDED  # returns the state, does nothing
    assert case.packages.count() == 1


@pytest.mark.django_db
def test_only_one_fulfilment_at_a_time_and_only_when_in_progress(officer):
    case, _attempt = _queued_access_case(officer)
    with pytest.raises(ValidationError, match="already queued"):
        services.request_fulfil(case=case, actor=officer)
    other = make_case(request_type=RequestType.ERASURE)
    with pytest.raises(ValidationError, match="in progress"):
        services.request_fulfil(case=other, actor=officer)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_access_package_is_built_by_a_real_worker_over_redis(celery_worker, officer):
    from celery.result import AsyncResult

    from requests_app.models import AccessPackage

    make_full_subject(email="alice@example.com")
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    services.request_verify_manually(
        case=case, method="phone", level="basic", reason="Called back", actor=officer
    )
    attempt = FulfilmentAttempt.objects.get(case=case)
    assert AsyncResult(attempt.task_id).get(timeout=60) == State.SUCCEEDED
    attempt.refresh_from_db()
    assert attempt.state == State.SUCCEEDED and attempt.heartbeat_at is not None
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED
    assert AccessPackage.objects.get(case=case).record_count > 0
