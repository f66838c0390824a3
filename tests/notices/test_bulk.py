"""Notices at breach scale: bulk enqueue in a fixed number of statements, and batched delivery over one
reused SMTP connection to a real mail server on loopback (aiosmtpd), keeping the single path's
guarantees: once per key, permanent failures not retried, transient ones retried with backoff (a
dropped connection mid-batch, a 4xx, a slow server), erased subjects' notices and withdrawn
marketing consent cancelled at send time."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from notices import rules
from notices.models import Notice, NoticeKind, NoticeStatus
from notices.services import BulkItem, notice_deliver_batch, notice_enqueue_many
from notices.services import common as notices_common
from tests.factories import DataSubjectFactory

from .factories import ACK_CONTEXT, enqueue_ack

pytestmark = pytest.mark.django_db


def _subjects(n: int, prefix: str = "p") -> list:
    return [DataSubjectFactory(name=f"Person {i}", email=f"{prefix}{i}@example.com") for i in range(n)]


def _bulk(subjects, *, key: str = "policy", dispatched=None, monkeypatch=None):
    items = [
        BulkItem(f"{key}:{s.pk}", {**ACK_CONTEXT, "reference": f"R-{s.pk}"}, subject=s) for s in subjects
    ]
    return notice_enqueue_many(kind=NoticeKind.REQUEST_ACKNOWLEDGED, items=items, actor="test.bulk")


def _queue(monkeypatch) -> list:
    queued: list = []
    monkeypatch.setattr(notices_common, "dispatch_notice_batches", lambda ids: queued.append(list(ids)))
    return queued


# --- Bulk enqueue ------------------------------------------------------------------------------------
def test_bulk_enqueue_writes_every_notice_with_one_audit_event_listing_them(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued = _queue(monkeypatch)
    people = _subjects(5)
    with django_capture_on_commit_callbacks(execute=True):
        result = _bulk(people)
    notices = list(Notice.objects.order_by("pk"))
    assert [n.pk for n in notices] == result.created and len(result.created) == 5
    assert [n.to_email for n in notices] == [p.email for p in people]
    assert all(n.status == NoticeStatus.PENDING and n.subject_id for n in notices)
    assert notices[0].email_subject == f"We received your privacy request R-{people[0].pk}"
    assert notices[0].headers["Auto-Submitted"] == "auto-generated"
    events = list(AuditEvent.objects.filter(action="notice.enqueued_batch"))
    assert len(events) == 1
    assert events[0].details["notice_ids"] == result.created
    assert events[0].details["subject_ids"] == [p.pk for p in people]
    assert queued == [result.created]  # delivery queued after commit, ids only, in batches


def test_bulk_enqueue_costs_the_same_statements_for_10_or_100_notices(monkeypatch):
    _queue(monkeypatch)
    people = _subjects(110)
    counts = []
    for batch, key in ((people[:10], "a"), (people[10:], "b")):
        with CaptureQueriesContext(connection) as ctx:
            _bulk(batch, key=key)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 10, counts
    assert Notice.objects.count() == 110


def test_bulk_enqueue_is_idempotent_per_key_and_returns_the_existing_notices(monkeypatch):
    queued = _queue(monkeypatch)
    people = _subjects(3)
    single = enqueue_ack(people[0], key=f"policy:{people[0].pk}")
    first = _bulk(people)
    assert first.existing == {f"policy:{people[0].pk}": single.pk} and len(first.created) == 2
    again = _bulk(people)
    assert again.created == [] and set(again.existing.values()) == {single.pk, *first.created}
    assert Notice.objects.count() == 3
    assert AuditEvent.objects.filter(action="notice.enqueued_batch").count() == 1
    assert len(queued) <= 1


def test_bulk_enqueue_refuses_the_whole_batch_on_one_bad_address(monkeypatch):
    _queue(monkeypatch)
    people = _subjects(2)
    people[1].email = "not-an-address"
    with pytest.raises(ValidationError) as exc:
        _bulk(people)
    assert "not-an-address" not in str(exc.value)
    assert Notice.objects.count() == 0
    with pytest.raises(ValidationError):
        notice_enqueue_many(kind=NoticeKind.MARKETING, items=[BulkItem("m:1", subject=people[0])])


def test_bulk_enqueue_rolls_back_with_the_callers_transaction(monkeypatch):
    _queue(monkeypatch)
    people = _subjects(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        _bulk(people)
        raise RuntimeError("the business change failed")
    assert Notice.objects.count() == 0


# --- What a batch costs: shared parts rendered once, one INSERT statement whatever the size -------
def test_bulk_notices_read_exactly_as_the_single_path_renders_them(monkeypatch):
    _queue(monkeypatch)
    people = _subjects(3)
    people[1].name = "Zoë <O'Brien> & Co"  # escaped in the HTML body, as the single path does
    people[1].save()
    single = [
        enqueue_ack(p, key=f"one:{p.pk}", context={**ACK_CONTEXT, "reference": f"R-{p.pk}"}) for p in people
    ]
    created = _bulk(people).created
    for one, bulk in zip(single, Notice.objects.filter(pk__in=created).order_by("pk"), strict=True):
        one.refresh_from_db()
        mine = str(bulk.public_id)[:8]  # notice_reference: each notice's own short id
        theirs = str(one.public_id)[:8]
        assert bulk.email_subject == one.email_subject
        assert bulk.body_text == one.body_text.replace(theirs, mine)
        assert bulk.body_html == one.body_html.replace(theirs, mine)


def test_bulk_enqueue_formats_the_dates_every_notice_shares_once_per_batch(monkeypatch):
    """ACK_CONTEXT's two dates (received_on, due_on) appear in the text and the HTML body: four date
    formats per batch, not four per notice."""
    from django.template import defaultfilters

    _queue(monkeypatch)
    formatted = []
    real_date = defaultfilters.date
    monkeypatch.setattr(defaultfilters, "date", lambda *a, **k: formatted.append(a) or real_date(*a, **k))
    _bulk(_subjects(25))
    assert len(formatted) == 4, len(formatted)
    assert Notice.objects.filter(body_text__contains="March 1, 2026").count() == 25


@pytest.mark.postgres
def test_bulk_enqueue_writes_a_batch_in_one_insert_statement_whatever_its_size(monkeypatch):
    """The rows go as arrays bound (in binary) to one fixed statement, not quoted into its text by the
    client with every column of every notice (which, with Django's per-field preparing, was most of the
    insert's cost)."""
    _queue(monkeypatch)
    people = _subjects(60)
    inserts = []
    for batch, key in ((people[:10], "a"), (people[10:], "b")):
        with CaptureQueriesContext(connection) as ctx:
            _bulk(batch, key=key)
        inserts.append(
            [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('INSERT INTO "notices_notice"')]
        )
    assert [len(found) for found in inserts] == [1, 1]
    assert inserts[0] == inserts[1]  # the same statement for 10 or 50 notices
    assert "@example.com" not in inserts[1][0]  # the values are bound, not in its text
    assert Notice.objects.count() == 60


def test_bulk_enqueue_to_addresses_alone_without_subjects(monkeypatch):
    """A batch where no notice has a subject: the subject column is all NULL (an array of NULLs)."""
    _queue(monkeypatch)
    items = [
        BulkItem(f"report:{i}", {**ACK_CONTEXT, "reference": f"R-{i}"}, to_email=f"ops{i}@example.com")
        for i in range(3)
    ]
    created = notice_enqueue_many(kind=NoticeKind.REQUEST_ACKNOWLEDGED, items=items).created
    notices = list(Notice.objects.filter(pk__in=created).order_by("pk"))
    assert [(n.subject_id, n.to_email) for n in notices] == [(None, f"ops{i}@example.com") for i in range(3)]
    assert all(n.body_text.startswith("Hello,") for n in notices)
    assert AuditEvent.objects.get(action="notice.enqueued_batch").details["subject_ids"] == [None] * 3


# --- Batched delivery over a real SMTP server --------------------------------------------------------
def _pending(n: int, monkeypatch, prefix: str = "p") -> list[int]:
    _queue(monkeypatch)
    return _bulk(_subjects(n, prefix)).created


def test_a_batch_is_sent_over_one_smtp_connection_and_recorded_once(smtp_server, monkeypatch):
    ids = _pending(20, monkeypatch)
    with CaptureQueriesContext(connection) as ctx:
        result = notice_deliver_batch(notice_ids=ids)
    assert sorted(result.sent) == ids
    assert smtp_server.connections == 1
    assert sorted(smtp_server.recipients()) == sorted(f"p{i}@example.com" for i in range(20))
    notices = Notice.objects.filter(pk__in=ids)
    assert {n.status for n in notices} == {NoticeStatus.SENT}
    assert {m for _, m in smtp_server.messages} == {n.message_id for n in notices}
    assert AuditEvent.objects.filter(action="notice.batch_delivered").count() == 1
    # claim, load, one outcome UPDATE, one audit event (no arrays on SQLite: an outcome UPDATE per notice)
    assert len(ctx.captured_queries) <= (15 if connection.vendor == "postgresql" else 15 + len(ids))

    again = notice_deliver_batch(notice_ids=ids)  # redelivered task message: nothing left to claim
    assert again.sent == [] and again.skipped == 20
    assert len(smtp_server.messages) == 20


def test_a_connection_dropped_mid_batch_retries_that_notice_and_sends_the_rest_once(smtp_server, monkeypatch):
    ids = _pending(6, monkeypatch)
    smtp_server.drop_after = 2  # the third message's DATA: the server hangs up
    result = notice_deliver_batch(notice_ids=ids)
    assert sorted(result.sent) == ids[:2] + ids[3:]
    assert result.retry == {rules.retry_delay(1).total_seconds(): [ids[2]]}
    assert smtp_server.connections == 2  # reopened once for the rest of the batch
    dropped = Notice.objects.get(pk=ids[2])
    assert dropped.status == NoticeStatus.PENDING and dropped.next_attempt_at > timezone.now()
    assert "SMTPServerDisconnected" in dropped.last_error

    assert notice_deliver_batch(notice_ids=ids).sent == []  # not due yet: nothing is resent
    with time_machine.travel(dropped.next_attempt_at + dt.timedelta(seconds=1)):
        assert notice_deliver_batch(notice_ids=ids).sent == [ids[2]]
    recipients = smtp_server.recipients()
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 6  # each exactly once
    assert set(Notice.objects.filter(pk__in=ids).values_list("status", flat=True)) == {NoticeStatus.SENT}


def test_a_5xx_recipient_fails_for_good_and_a_4xx_recipient_is_retried(smtp_server, monkeypatch):
    ids = _pending(4, monkeypatch)
    smtp_server.refuse["p1@example.com"] = (550, "5.1.1 mailbox unavailable")
    smtp_server.refuse["p2@example.com"] = (451, "4.3.0 try again later")
    result = notice_deliver_batch(notice_ids=ids)
    assert sorted(result.sent) == [ids[0], ids[3]]
    assert result.failed == [ids[1]]
    assert sum(result.retry.values(), []) == [ids[2]]
    assert smtp_server.connections == 1  # a refused recipient does not cost the connection
    failed, waiting = Notice.objects.get(pk=ids[1]), Notice.objects.get(pk=ids[2])
    assert failed.status == NoticeStatus.FAILED and failed.last_error.startswith("permanent failure")
    assert "p1@example.com" not in failed.last_error  # the reason is stored redacted
    assert waiting.status == NoticeStatus.PENDING and waiting.next_attempt_at is not None

    smtp_server.refuse.clear()
    with time_machine.travel(waiting.next_attempt_at + dt.timedelta(seconds=1)):
        second = notice_deliver_batch(notice_ids=ids)
    assert second.sent == [ids[2]] and second.failed == []  # the permanent failure is not retried
    assert Notice.objects.get(pk=ids[1]).status == NoticeStatus.FAILED


def test_a_slow_server_times_out_and_the_notice_is_retried_not_lost(smtp_server, monkeypatch, settings):
    settings.NOTICES_SMTP_TIMEOUT_SECONDS = 1
    ids = _pending(1, monkeypatch)
    smtp_server.delay = 2.0
    result = notice_deliver_batch(notice_ids=ids)
    assert result.sent == [] and sum(result.retry.values(), []) == ids
    notice = Notice.objects.get(pk=ids[0])
    assert notice.status == NoticeStatus.PENDING and notice.attempts == 1


def test_out_of_attempts_a_transient_failure_marks_the_notice_failed(smtp_server, monkeypatch, settings):
    settings.NOTICES_MAX_ATTEMPTS = 1
    ids = _pending(1, monkeypatch)
    smtp_server.refuse["p0@example.com"] = (451, "4.3.0 try again later")
    result = notice_deliver_batch(notice_ids=ids)
    assert result.failed == ids
    assert Notice.objects.get(pk=ids[0]).last_error.startswith("gave up after 1 attempts")


def test_erased_subjects_notices_are_cancelled_at_send_time(smtp_server, monkeypatch):
    ids = _pending(3, monkeypatch)
    # What the erasure engine does to an erased subject's notices (notices/personal_data.py).
    Notice.objects.filter(pk=ids[1]).update(
        to_email="0" * 64, email_subject=None, body_text=None, body_html=None
    )
    result = notice_deliver_batch(notice_ids=ids)
    assert result.cancelled == [ids[1]] and sorted(result.sent) == [ids[0], ids[2]]
    assert Notice.objects.get(pk=ids[1]).status == NoticeStatus.CANCELLED
    assert sorted(smtp_server.recipients()) == ["p0@example.com", "p2@example.com"]


def test_the_marketing_gate_is_checked_at_send_time(smtp_server, gate, subject):
    gate.allowed.add((subject.pk, "marketing_email"))
    kept = enqueue_ack(subject, key="m:1", kind=NoticeKind.MARKETING, marketing_purpose="marketing_email",
                       context={"headline": "Spring sale", "message": "Ten percent off."})  # fmt: skip
    other = DataSubjectFactory(email="carol@example.com")
    gate.allowed.add((other.pk, "marketing_email"))
    withdrawn = enqueue_ack(other, key="m:2", kind=NoticeKind.MARKETING, marketing_purpose="marketing_email",
                            context={"headline": "Spring sale", "message": "Ten percent off."})  # fmt: skip
    gate.allowed.discard((other.pk, "marketing_email"))  # consent withdrawn after enqueue
    result = notice_deliver_batch(notice_ids=[kept.pk, withdrawn.pk])
    assert result.sent == [kept.pk] and result.cancelled == [withdrawn.pk]
    assert smtp_server.recipients() == ["bob@example.com"]
    assert Notice.objects.get(pk=withdrawn.pk).last_error.startswith("consent")


def test_a_batch_claimed_by_another_worker_is_skipped(smtp_server, monkeypatch):
    ids = _pending(3, monkeypatch)
    Notice.objects.filter(pk=ids[0]).update(status=NoticeStatus.SENT, sent_at=timezone.now())
    result = notice_deliver_batch(notice_ids=ids)
    assert sorted(result.sent) == ids[1:] and result.skipped == 1
    assert len(smtp_server.messages) == 2


def test_the_audit_chain_stays_verifiable_after_bulk_work(smtp_server, monkeypatch):
    from audit.selectors import verify_chain

    ids = _pending(3, monkeypatch)
    notice_deliver_batch(notice_ids=ids)
    audit_record(action="test.after", details={})
    checked, broken = verify_chain()
    assert broken is None and checked >= 3


def test_the_batch_task_takes_two_ids_and_delivers_that_range_once(smtp_server, monkeypatch):
    from notices.tasks import deliver_notice_batch

    ids = _pending(5, monkeypatch)
    assert deliver_notice_batch.delay(ids[0], ids[-1]).get() == {
        "sent": 5, "failed": 0, "cancelled": 0, "retry": 0, "skipped": 0}  # fmt: skip
    assert deliver_notice_batch.delay(ids[0], ids[-1]).get()["sent"] == 0  # redelivered: nothing to claim
    assert sorted(smtp_server.recipients()) == sorted(f"p{i}@example.com" for i in range(5))


def test_bulk_enqueue_queues_batches_of_first_and_last_id_after_commit(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    from notices.tasks import deliver_notice_batch

    settings.NOTICES_DELIVERY_BATCH = 2
    calls = []
    monkeypatch.setattr(deliver_notice_batch, "delay", lambda *args: calls.append(args))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = _bulk(_subjects(5))
        assert calls == []  # nothing is queued before the commit
    for callback in callbacks:
        callback()
    ids = result.created
    assert calls == [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[4])]


def test_outcomes_are_recorded_one_by_one_where_the_database_has_no_arrays(monkeypatch):
    """The SQLite path (`make run`) of the batch's outcome UPDATE, run here on any database: the same
    fields, under the same claim-token guard, as the one-statement UPDATE."""
    from notices.services import batch_delivery

    ids = _pending(4, monkeypatch)
    token = uuid.uuid4()
    claimed = batch_delivery._claim(which=Q(pk__in=ids[:3]), token=token)  # the 4th stays pending
    later = timezone.now() + dt.timedelta(minutes=5)
    outcomes = {
        ids[0]: batch_delivery._Outcome(NoticeStatus.SENT),
        ids[1]: batch_delivery._Outcome(NoticeStatus.PENDING, "SMTPServerDisconnected", later),
        ids[2]: batch_delivery._Outcome(NoticeStatus.FAILED, "permanent failure: 550"),
        ids[3]: batch_delivery._Outcome(NoticeStatus.SENT),  # not claimed by this token: untouched
    }
    at = timezone.now()
    assert [n.pk for n in claimed] == ids[:3]
    assert batch_delivery._record_each(outcomes, at=at, token=token) == set(ids[:3])
    sent, retried, failed, other = (Notice.objects.get(pk=pk) for pk in ids)
    assert (sent.status, sent.sent_at, sent.next_attempt_at) == (NoticeStatus.SENT, at, None)
    assert (retried.status, retried.next_attempt_at, retried.dispatched_at) == (
        NoticeStatus.PENDING,
        later,
        at,
    )
    assert retried.last_error == "SMTPServerDisconnected"
    assert (failed.status, failed.failed_at, failed.last_error) == (
        NoticeStatus.FAILED,
        at,
        "permanent failure: 550",
    )
    assert other.status == NoticeStatus.PENDING and other.sent_at is None
    # Recorded once: a second pass (a redelivered task) finds nothing of its claim left in `sending`.
    assert batch_delivery._record_each(outcomes, at=at, token=token) == set()
