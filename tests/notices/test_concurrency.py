"""Concurrent callers on PostgreSQL: two transactions enqueueing the same key make one notice."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from notices.models import Notice
from tests.factories import DataSubjectFactory

from .factories import enqueue_ack


def _wait_until_a_backend_waits_on_a_lock(timeout_rounds: int = 2000) -> bool:
    """Poll pg_stat_activity (a synchronisation point, not a timed assertion). Inside a transaction
    PostgreSQL keeps one statistics snapshot, so clear it before each look."""
    with connection.cursor() as cursor:
        for _ in range(timeout_rounds):
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            cursor.execute("SELECT pg_sleep(0.01)")
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_enqueueing_the_same_key_at_once_create_one_notice_and_send_once(default_templates):
    subject = DataSubjectFactory(email="race@example.com")
    first_inserted = threading.Event()
    results: dict = {}
    errors: list = []

    def first():
        try:
            with transaction.atomic():
                results["first"] = enqueue_ack(subject, key="race:1")
                first_inserted.set()
                # Commit only once the second caller is blocked on the unique index.
                results["second_blocked"] = _wait_until_a_backend_waits_on_a_lock()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_inserted.wait(10)
            with transaction.atomic():
                results["second"] = enqueue_ack(subject, key="race:1")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results["second_blocked"], "the second caller never reached the unique index"
    assert results["first"].pk == results["second"].pk
    assert Notice.objects.filter(idempotency_key="race:1").count() == 1
    assert len(mail.outbox) == 1
