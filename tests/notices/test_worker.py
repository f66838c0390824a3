"""Delivery through a real Celery worker consuming from Redis, into Django's locmem mail outbox.

The worker runs in a thread of this process, so `mail.outbox` is shared with the test.
"""

import pytest
from django.core import mail
from django.db import transaction

from notices.models import Notice, NoticeStatus
from notices.tasks import deliver_notice
from tests.factories import DataSubjectFactory

from .factories import enqueue_ack


# PostgreSQL too: a transactional test ends with a flush, and on SQLite the audit table's append-only
# triggers refuse the flush's DELETE (PostgreSQL flushes with TRUNCATE). Our audit events make that bite.
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_delivers_the_notice_once_into_the_locmem_outbox(
    default_templates, celery_worker, settings, monkeypatch
):
    from privacyops.celery import app

    assert app.conf.task_always_eager is False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    queued = []
    original_delay = deliver_notice.delay
    monkeypatch.setattr(
        deliver_notice, "delay", lambda *a, **k: queued.append(original_delay(*a, **k)) or queued[-1]
    )

    with transaction.atomic():
        subject = DataSubjectFactory(name="Erin Example", email="erin@example.com")
        notice = enqueue_ack(subject, key="worker:ack")
        assert queued == []  # nothing is published before the commit

    assert queued[0].get(timeout=30) == "sent"  # the on-commit dispatch, run by the worker
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.attempts == 1
    assert [m.to for m in mail.outbox] == [["erin@example.com"]]
    assert mail.outbox[0].subject == "We received your privacy request DSAR-2026-00042"

    # The same task delivered again by the broker (redelivery, duplicate publish) sends nothing.
    assert original_delay(notice.pk).get(timeout=30) == "skipped"
    assert len(mail.outbox) == 1
    assert Notice.objects.get(pk=notice.pk).status == NoticeStatus.SENT


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_a_bulk_batch_once_each_when_the_smtp_server_drops_the_connection_mid_batch(
    default_templates, celery_worker, smtp_server, settings
):
    """Issue 19: bulk enqueue -> the on-commit batch task on Redis -> a real worker -> the real SMTP server,
    which hangs up in the middle of the batch. The dropped notice waits for its backoff, the task queues
    its retry, and in the end every notice is recorded sent and the server accepted each exactly once."""
    import time

    from notices.models import NoticeKind
    from notices.services import BulkItem, notice_enqueue_many

    from .factories import ACK_CONTEXT

    settings.NOTICES_RETRY_BASE_SECONDS = 1
    smtp_server.drop_after = 3  # the fourth message's DATA: the server closes the connection
    with transaction.atomic():
        people = [DataSubjectFactory(email=f"w{i}@example.com") for i in range(8)]
        items = [BulkItem(f"worker:bulk:{p.pk}", ACK_CONTEXT, subject=p) for p in people]
        ids = notice_enqueue_many(kind=NoticeKind.REQUEST_ACKNOWLEDGED, items=items).created

    deadline = time.monotonic() + 60
    while Notice.objects.filter(pk__in=ids, status=NoticeStatus.SENT).count() < len(ids):
        assert time.monotonic() < deadline, list(
            Notice.objects.filter(pk__in=ids).values_list("status", "attempts")
        )
        time.sleep(0.2)
    notices = list(Notice.objects.filter(pk__in=ids))
    assert sorted(n.attempts for n in notices) == [1] * 7 + [2]  # only the dropped one was sent again
    accepted = [message_id for _, message_id in smtp_server.messages]
    assert sorted(accepted) == sorted(n.message_id for n in notices)  # each exactly once, nothing else
    assert sorted(smtp_server.recipients()) == sorted(p.email for p in people)
    assert smtp_server.connections == 3  # the batch's, its reopening after the drop, the retry's
