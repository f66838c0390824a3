"""Issue 14 item 5: a hold that passes its end date counts as released, so the erasure it deferred resumes."""

import datetime as dt

import pytest
import time_machine

from audit.models import AuditEvent
from inventory import models as inv
from notices.models import Notice
from requests_app import services
from requests_app.models import PrivacyRequest, RequestType, Status
from retention.models import ErasureCertificate, LegalHold
from retention.services import legal_hold_update
from retention.tasks import holds_expire
from tests.factories import make_full_subject

from .factories import make_case

BASE = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
ENDS_ON = dt.date(2026, 5, 10)  # last day the hold applies (inclusive)


def _waiting_case(officer, django_capture_on_commit_callbacks, *, ends_on):
    """A verified erasure case whose erasure a case hold (ending `ends_on`) deferred."""
    case = make_case(request_type=RequestType.ERASURE, subject_email="alice@example.com")
    services.request_verify_manually(
        case=case, method="phone", level="high", reason="Called back", actor=officer
    )
    case = PrivacyRequest.objects.get(pk=case.pk)
    hold = services.request_legal_hold_place(case=case, reason="Pending litigation", actor=officer)
    legal_hold_update(hold_id=hold.pk, ends_on=ends_on, actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.WAITING_HOLD_RELEASE
    return case, hold


@pytest.mark.django_db
def test_an_expired_hold_resumes_the_deferred_erasure_and_the_case_completes_with_the_final_notice(
    officer, outbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(BASE, tick=False) as clock:
        alice = make_full_subject(email="alice@example.com")
        case, hold = _waiting_case(officer, django_capture_on_commit_callbacks, ends_on=ENDS_ON)
        # 23:00 Pacific on the end date itself (06:00 UTC the next day): still in force.
        clock.move_to(dt.datetime(2026, 5, 11, 6, 0, tzinfo=dt.UTC))
        with django_capture_on_commit_callbacks(execute=True):
            assert holds_expire.delay().get() == 0
        assert PrivacyRequest.objects.get(pk=case.pk).status == Status.WAITING_HOLD_RELEASE
        assert inv.ContactPoint.objects.filter(subject=alice).exists()

        # The hourly schedule's first run after the business's midnight (00:15 Pacific = 07:15 UTC).
        clock.move_to(dt.datetime(2026, 5, 11, 7, 15, tzinfo=dt.UTC))
        with django_capture_on_commit_callbacks(execute=True):
            assert holds_expire.delay().get() == 1
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert not inv.ContactPoint.objects.filter(subject=alice).exists()
    final = ErasureCertificate.objects.get(pk=case.erasure_certificate_id)
    assert final.kept_count == 0 and final.key_destroyed
    confirmation = outbox.last("erasure_confirmation")
    assert confirmation["to_email"] == "alice@example.com" and confirmation["context"]["kept_records"] == []
    assert Notice.objects.filter(kind="erasure_confirmation").count() == 1
    hold.refresh_from_db()
    assert hold.release_reason == "expired" and hold.released_by == "legal hold expiry"
    assert hold.released_at == dt.datetime(2026, 5, 11, 7, 15, tzinfo=dt.UTC)
    event = AuditEvent.objects.get(action="retention.hold.released")
    assert event.details["expired"] is True and event.details["hold"] == str(hold.public_id)


@pytest.mark.django_db
def test_running_the_expiry_twice_changes_nothing_more(officer, outbox, django_capture_on_commit_callbacks):
    with time_machine.travel(BASE, tick=False) as clock:
        make_full_subject(email="alice@example.com")
        case, hold = _waiting_case(officer, django_capture_on_commit_callbacks, ends_on=ENDS_ON)
        clock.move_to(dt.datetime(2026, 5, 12, 9, 0, tzinfo=dt.UTC))
        with django_capture_on_commit_callbacks(execute=True):
            assert holds_expire.delay().get() == 1
        released_at = LegalHold.objects.get(pk=hold.pk).released_at
        counts = (AuditEvent.objects.count(), case.events.count(), Notice.objects.count(), len(outbox.calls))
        clock.move_to(dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC))
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert holds_expire.delay().get() == 0
    assert callbacks == []  # no resumption queued
    assert LegalHold.objects.get(pk=hold.pk).released_at == released_at
    assert (
        AuditEvent.objects.count(),
        case.events.count(),
        Notice.objects.count(),
        len(outbox.calls),
    ) == counts
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED


@pytest.mark.django_db
def test_a_hold_without_an_end_date_keeps_the_case_waiting(
    officer, outbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(BASE, tick=False) as clock:
        alice = make_full_subject(email="alice@example.com")
        case, hold = _waiting_case(officer, django_capture_on_commit_callbacks, ends_on=None)
        clock.move_to(BASE + dt.timedelta(days=3650))
        with django_capture_on_commit_callbacks(execute=True):
            assert holds_expire.delay().get() == 0
    assert LegalHold.objects.get(pk=hold.pk).released_at is None
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.WAITING_HOLD_RELEASE
    assert inv.ContactPoint.objects.filter(subject=alice).exists()
    assert "erasure_confirmation" not in outbox.kinds()
