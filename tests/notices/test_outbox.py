"""The transactional outbox: written with the business change, delivered exactly once, retried with
backoff, swept when orphaned, and never carrying personal data in task arguments or logs."""

import datetime as dt
import logging
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from inventory.models import DataSubject
from notices import rules
from notices.models import Notice, NoticeKind, NoticeStatus
from notices.services import notice_cancel, notice_deliver, notice_enqueue, notice_retry, outbox_sweep
from notices.tasks import deliver_notice, sweep_outbox
from tests.factories import DataSubjectFactory

from .backends import FlakyServerBackend, HookBackend
from .factories import ACK_CONTEXT, enqueue_ack

pytestmark = pytest.mark.django_db

FLAKY = "tests.notices.backends.FlakyServerBackend"
REFUSING = "tests.notices.backends.RefusingServerBackend"
HOOK = "tests.notices.backends.HookBackend"


# --- Written with the business change ---------------------------------------------------------------
def test_notice_and_business_change_commit_together(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        subject = DataSubjectFactory(email="carol@example.com")  # the business change
        notice = enqueue_ack(subject)
    assert DataSubject.objects.filter(pk=subject.pk).exists()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]


def test_notice_and_business_change_roll_back_together(django_capture_on_commit_callbacks):
    class BusinessRuleBroken(Exception):
        pass

    capture = django_capture_on_commit_callbacks(execute=True)
    with capture as callbacks, pytest.raises(BusinessRuleBroken), transaction.atomic():
        subject = DataSubjectFactory(email="dave@example.com")
        enqueue_ack(subject, key="case:rollback:ack")
        raise BusinessRuleBroken()
    assert not DataSubject.objects.filter(email="dave@example.com").exists()
    assert not Notice.objects.filter(idempotency_key="case:rollback:ack").exists()
    assert callbacks == []  # no delivery was scheduled
    assert mail.outbox == []


def test_delivery_is_scheduled_only_after_commit_with_the_notice_id_only(
    subject, django_capture_on_commit_callbacks
):
    with mock.patch.object(deliver_notice, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            notice = enqueue_ack(subject)
        delay.assert_not_called()  # nothing leaves before the transaction commits
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(notice.pk)
    assert all(isinstance(arg, int) for arg in delay.call_args.args)


# --- Idempotency and exactly-once ---------------------------------------------------------------------
def test_duplicate_enqueue_with_the_same_key_sends_once(subject, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = enqueue_ack(subject, key="case:7:ack")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = enqueue_ack(subject, key="case:7:ack", context={**ACK_CONTEXT, "reference": "OTHER"})
    assert second.pk == first.pk
    assert callbacks == []  # nothing new scheduled
    assert Notice.objects.filter(idempotency_key="case:7:ack").count() == 1
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="notice.enqueued", target_id=str(first.pk)).count() == 1


def test_delivery_task_run_twice_sends_once(subject, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        notice = enqueue_ack(subject)
    assert deliver_notice.delay(notice.pk).get() == "sent"
    assert deliver_notice.delay(notice.pk).get() == "skipped"
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.attempts == 1
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="notice.sent", target_id=str(notice.pk)).count() == 1


def test_a_second_worker_running_during_the_send_finds_nothing_to_claim(subject, settings):
    settings.EMAIL_BACKEND = HOOK
    notice = Notice.objects.get(pk=enqueue_ack(subject).pk)
    inner = []
    HookBackend.during_send = lambda: inner.append(notice_deliver(notice_id=notice.pk))
    try:
        outer = notice_deliver(notice_id=notice.pk)
    finally:
        HookBackend.during_send = None
    assert inner[0].result == "skipped"
    assert outer.result == "sent"
    assert len(mail.outbox) == 1


# --- Message ------------------------------------------------------------------------------------------
def test_delivered_message_has_text_html_and_stable_headers(subject, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notice = enqueue_ack(subject)
    notice.refresh_from_db()
    message = mail.outbox[0]
    assert message.subject == "We received your privacy request DSAR-2026-00042"
    assert "Dear Bob Example," in message.body and "April 15, 2026" in message.body
    (html, mimetype), = message.alternatives  # fmt: skip
    assert mimetype == "text/html" and "<strong>DSAR-2026-00042</strong>" in html
    assert message.extra_headers["Message-ID"] == notice.message_id
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in message.extra_headers
    assert notice.email_subject == message.subject and notice.body_text == message.body


def test_to_email_defaults_to_the_subject_and_can_be_overridden(subject):
    default = enqueue_ack(subject, key="a")
    other = enqueue_ack(subject, key="b", to_email="  partner-privacy@example.org ")
    assert default.to_email == "bob@example.com"
    assert other.to_email == "partner-privacy@example.org"


def test_enqueue_refuses_a_missing_or_invalid_address_without_echoing_it(db):
    nobody = DataSubjectFactory(email="")
    with pytest.raises(ValidationError, match="has no email address"):
        enqueue_ack(nobody)
    with pytest.raises(ValidationError) as excinfo:
        enqueue_ack(nobody, to_email="not-an-address")
    assert "not-an-address" not in str(excinfo.value)
    assert not Notice.objects.exists()


def test_enqueue_refuses_context_that_is_not_plain_data(subject):
    with pytest.raises(ValidationError, match="DataSubject is not plain data"):
        enqueue_ack(subject, context={**ACK_CONTEXT, "who": subject})
    assert not Notice.objects.exists()


def test_unknown_kind_is_refused(subject):
    with pytest.raises(ValidationError, match="is not a kind of notice"):
        notice_enqueue(kind="newsletter", idempotency_key="x", context={}, subject=subject)


def test_language_without_a_template_falls_back_to_english(subject):
    notice = enqueue_ack(subject, language="fr-CA")
    assert notice.language == "en"


def test_notice_without_a_subject_goes_to_the_given_address(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_enqueue(
            kind=NoticeKind.OPERATIONS_REPORT,
            idempotency_key="report:2026-03-02",
            context={"title": "Sweep finished", "summary": "3 records erased.", "items": ["a"], "link": ""},
            to_email="privacy-office@example.com",
        )
    assert notice.subject_id is None
    assert mail.outbox[0].subject == "[privacyops] Sweep finished"


# --- Failures, retries, backoff -----------------------------------------------------------------------
def test_failing_backend_retries_with_exponential_backoff_then_marks_failed(
    subject, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = FLAKY
    FlakyServerBackend.calls = 0
    start = timezone.now()
    delays = []
    with time_machine.travel(start, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            notice = enqueue_ack(subject)  # first attempt runs on commit
        for _ in range(rules.max_attempts() - 1):
            notice.refresh_from_db()
            assert notice.status == NoticeStatus.PENDING
            delays.append((notice.next_attempt_at - timezone.now()).total_seconds())
            assert deliver_notice.delay(notice.pk).get() == "skipped"  # not due yet: no early resend
            traveller.move_to(notice.next_attempt_at)
            deliver_notice.delay(notice.pk).get()
    notice.refresh_from_db()
    assert delays == [60, 120, 240, 480]
    assert FlakyServerBackend.calls == rules.max_attempts() == notice.attempts
    assert notice.status == NoticeStatus.FAILED and notice.failed_at is not None
    assert notice.last_error.startswith(
        f"gave up after {rules.max_attempts()} attempts: SMTPServerDisconnected"
    )
    assert "bob@example.com" not in notice.last_error  # reasons are shown in the admin: no addresses
    assert mail.outbox == []
    assert AuditEvent.objects.filter(action="notice.failed", target_id=str(notice.pk)).count() == 1


def test_the_task_asks_celery_to_retry_after_the_backoff(subject, settings):
    settings.EMAIL_BACKEND = FLAKY
    notice = enqueue_ack(subject)
    retry = mock.Mock(side_effect=RuntimeError("retry requested"))
    with (
        mock.patch.object(deliver_notice, "retry", retry),
        pytest.raises(RuntimeError, match="retry requested"),
    ):
        deliver_notice.run(notice.pk)  # a worker's call (not eager)
    retry.assert_called_once_with(countdown=60.0, max_retries=None)


def test_a_refused_recipient_fails_at_once_without_retry(subject, settings):
    settings.EMAIL_BACKEND = REFUSING
    notice = enqueue_ack(subject)
    outcome = notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert outcome.result == "failed" and notice.attempts == 1
    assert notice.status == NoticeStatus.FAILED
    assert notice.last_error.startswith("permanent failure: SMTPRecipientsRefused")
    assert "bob@example.com" not in notice.last_error


def test_retry_service_requeues_a_failed_notice_and_it_is_delivered(
    subject, settings, admin_user, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    notice = enqueue_ack(subject)
    notice_deliver(notice_id=notice.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notice_retry(notice_id=notice.pk, actor=admin_user)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.attempts == 1
    assert len(mail.outbox) == 1
    event = AuditEvent.objects.get(action="notice.retry_requested")
    assert event.actor_label == admin_user.username and event.details == {"previous_status": "failed"}


def test_a_sent_notice_cannot_be_retried_or_cancelled(subject, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notice = enqueue_ack(subject)
    with pytest.raises(ValidationError, match="Only failed or pending"):
        notice_retry(notice_id=notice.pk)
    with pytest.raises(ValidationError, match="can't be cancelled"):
        notice_cancel(notice_id=notice.pk, reason="wrong person")


def test_a_cancelled_notice_is_never_sent(subject):
    notice = enqueue_ack(subject)
    notice_cancel(notice_id=notice.pk, reason="queued for the wrong case")
    assert notice_deliver(notice_id=notice.pk).result == "skipped"
    assert mail.outbox == []


def test_a_notice_erased_before_delivery_is_cancelled_not_sent(subject):
    notice = enqueue_ack(subject)
    Notice.objects.filter(pk=notice.pk).update(
        to_email="f" * 64, email_subject=None, body_text=None, body_html=None
    )
    outcome = notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert outcome.result == "cancelled" and notice.status == NoticeStatus.CANCELLED
    assert mail.outbox == []


# --- The beat sweep -----------------------------------------------------------------------------------
def test_beat_sweep_redelivers_an_orphaned_pending_notice(subject, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=False):
            notice = enqueue_ack(subject)  # committed, but the dispatch is lost (crash, broker down)
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep_outbox.delay().get()["requeued"] == 0  # within the grace: its task may still come
        traveller.move_to(start + rules.dispatch_grace() + dt.timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep_outbox.delay().get()["requeued"] == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(mail.outbox) == 1


def test_beat_sweep_requeues_a_notice_whose_worker_died_while_sending(
    subject, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        notice = enqueue_ack(subject)
        # The worker claimed it and died before recording anything.
        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.SENDING, claimed_at=start, claim_token="00000000-0000-0000-0000-000000000001",
            attempts=1,
        )  # fmt: skip
        traveller.move_to(start + rules.sending_lease() - dt.timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox_sweep().lease_expired == 0  # a slow live worker is left alone
        traveller.move_to(start + rules.sending_lease() + dt.timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=True):
            result = outbox_sweep()
    notice.refresh_from_db()
    assert result.lease_expired == 1
    assert notice.status == NoticeStatus.SENT and notice.attempts == 2
    assert "duplicate is possible" in notice.last_error
    assert AuditEvent.objects.filter(action="notice.lease_expired", target_id=str(notice.pk)).exists()


def test_sweep_marks_failed_a_stuck_notice_out_of_attempts(subject):
    notice = enqueue_ack(subject)
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.SENDING, claimed_at=timezone.now() - rules.sending_lease() - dt.timedelta(minutes=1),
        claim_token="00000000-0000-0000-0000-000000000002", attempts=rules.max_attempts(),
    )  # fmt: skip
    assert outbox_sweep().failed == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED and "outcome unknown" in notice.last_error


def test_a_slow_worker_that_succeeds_after_its_lease_expired_is_recorded_and_not_resent(
    subject, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = HOOK
    notice = enqueue_ack(subject)
    swept = []

    def lease_expires_mid_send():
        later = timezone.now() + rules.sending_lease() + dt.timedelta(minutes=1)
        with time_machine.travel(later), django_capture_on_commit_callbacks(execute=False) as callbacks:
            swept.append(outbox_sweep())
        swept.append(callbacks)

    HookBackend.during_send = lease_expires_mid_send
    try:
        assert notice_deliver(notice_id=notice.pk).result == "sent"
    finally:
        HookBackend.during_send = None
    assert swept[0].lease_expired == 1
    for callback in swept[1]:  # the sweep's re-delivery arrives after the slow worker recorded success
        callback()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(mail.outbox) == 1


# --- Nothing personal in logs -------------------------------------------------------------------------
def test_logs_carry_ids_never_addresses_or_names(
    subject, settings, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_ack(subject, key="ok")
    settings.EMAIL_BACKEND = FLAKY
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_ack(subject, key="flaky")
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_ack(subject, key="refused")
    assert caplog.records, "delivery should log its outcomes"
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "bob@example.com" not in text and "Bob Example" not in text
