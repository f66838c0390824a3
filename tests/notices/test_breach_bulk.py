"""Issue 19: a breach's notices go through the bulk enqueue service, one batch per transaction: N subjects ->
N notices, one audit event per batch listing what it covers, a rerun adds nothing, the audit chain verifies,
and the statements a batch costs do not grow with the number of subjects in it."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.selectors import verify_chain
from inventory.models import DataSubject
from notices.models import Breach, BreachStatus, Notice, NoticeStatus
from notices.selectors import breach_clocks
from notices.services import breach_notify_batch, breach_notify_start

from .factories import make_breach

pytestmark = pytest.mark.django_db


def _residents(n: int, *, prefix: str = "r", region: str = "CA") -> list[int]:
    rows = [
        DataSubject(name=f"Resident {i}", email=f"{prefix}{i}@example.com", country="US", region=region)
        for i in range(n)
    ]
    return [s.pk for s in DataSubject.objects.bulk_create(rows)]


def _started(ids: list[int], capture) -> Breach:
    breach = make_breach(selection={"subject_ids": ids})
    with capture(execute=False):  # the first batch task is not run: the test drives the batches
        breach_notify_start(breach_id=breach.pk)
    return breach


def test_n_subjects_get_n_notices_with_one_audit_event_per_batch_and_a_rerun_adds_none(
    django_capture_on_commit_callbacks,
):
    ids = _residents(7)
    breach = _started(ids, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):  # delivery (eager) after each batch commits
        while not breach_notify_batch(breach_id=breach.pk, batch_size=3).done:
            pass
    notices = Notice.objects.filter(breach=breach)
    assert sorted(notices.values_list("subject_id", flat=True)) == ids
    assert {n.idempotency_key for n in notices} == {f"breach:{breach.pk}:subject:{pk}" for pk in ids}
    batches = list(AuditEvent.objects.filter(action="notice.enqueued_batch").order_by("pk"))
    assert [e.details["count"] for e in batches] == [3, 3, 1]  # three batches of 3, 3 and 1 subjects
    assert all(e.details["breach_id"] == breach.pk for e in batches)
    assert sorted(pk for e in batches for pk in e.details["notice_ids"]) == sorted(n.pk for n in notices)
    assert sorted(pk for e in batches for pk in e.details["subject_ids"]) == ids
    assert not AuditEvent.objects.filter(action="notice.enqueued").exists()  # nothing one by one
    assert len(mail.outbox) == 7

    # A rerun from the start (a replayed batch after a crash between enqueue and progress) adds nothing.
    Breach.objects.filter(pk=breach.pk).update(status=BreachStatus.NOTIFYING, notify_cursor=0)
    with django_capture_on_commit_callbacks(execute=True):
        again = breach_notify_batch(breach_id=breach.pk, batch_size=100)
    assert again.processed == 7 and again.done
    assert Notice.objects.filter(breach=breach).count() == 7
    assert AuditEvent.objects.filter(action="notice.enqueued_batch").count() == 3
    assert len(mail.outbox) == 7
    checked, broken = verify_chain()
    assert broken is None and checked >= 3


def test_the_statements_of_a_breach_batch_are_the_same_for_n_and_3n_subjects(
    django_capture_on_commit_callbacks,
):
    counts = []
    for n, prefix in ((10, "a"), (30, "b")):
        breach = _started(_residents(n, prefix=prefix), django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=False):
            result = breach_notify_batch(breach_id=breach.pk, batch_size=100)
        assert (result.processed, result.enqueued, result.done) == (n, n, True)
        assert Notice.objects.filter(breach=breach).count() == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_an_invalid_address_is_skipped_without_refusing_the_rest_of_the_batch(
    django_capture_on_commit_callbacks,
):
    ids = _residents(3)
    DataSubject.objects.filter(pk=ids[1]).update(email="not-an-address")
    breach = _started(ids, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        result = breach_notify_batch(breach_id=breach.pk, batch_size=100)
    assert (result.processed, result.enqueued, result.skipped) == (3, 2, 1)
    notified = Notice.objects.filter(breach=breach).values_list("subject_id", flat=True)
    assert sorted(notified) == [ids[0], ids[2]]
    breach.refresh_from_db()
    assert (breach.notify_enqueued, breach.notify_skipped) == (2, 1)


def test_the_california_clock_waits_for_every_bulk_enqueued_residents_notice_to_be_sent(
    django_capture_on_commit_callbacks,
):
    ids = _residents(4)
    breach = _started(ids, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as deliveries:
        breach_notify_batch(breach_id=breach.pk, batch_size=100)
    breach.refresh_from_db()
    ca = next(c for c in breach_clocks(breach) if c.code == "ca_consumers")
    assert breach.status == BreachStatus.NOTIFIED and ca.done_at is None  # queued, not sent
    for deliver in deliveries:
        deliver()
    assert set(Notice.objects.filter(breach=breach).values_list("status", flat=True)) == {NoticeStatus.SENT}
    ca = next(c for c in breach_clocks(breach) if c.code == "ca_consumers")
    assert ca.done_at is not None
