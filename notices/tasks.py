"""Celery tasks of the notices app. They take ids only (never addresses or text) and call one service.

deliver_notice is idempotent (the service claims the row before sending, see notices.services), so
acks_late is safe: a message redelivered after a worker died finds nothing left to claim.
"""

import logging

from celery import shared_task
from django.db import OperationalError

from . import services

logger = logging.getLogger("notices")


@shared_task(
    bind=True,
    name="notices.deliver_notice",
    acks_late=True,
    # Backstop only: the attempt count that matters is on the row (notices.rules.max_attempts).
    max_retries=10,
    autoretry_for=(OperationalError,),  # the database went away before the claim: try again
    retry_backoff=True,
    retry_backoff_max=600,
    soft_time_limit=90,
    time_limit=120,
)
def deliver_notice(self, notice_id: int) -> str:
    outcome = services.notice_deliver(notice_id=notice_id)
    if outcome.result == "retry" and outcome.retry_in is not None and not self.request.is_eager:
        # The row is pending with next_attempt_at; this re-run claims it once due. If this message
        # is lost, the beat sweep re-queues the notice.
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.result


@shared_task(bind=True, name="notices.sweep_outbox", acks_late=True, max_retries=3, default_retry_delay=60)
def sweep_outbox(self) -> dict:
    result = services.outbox_sweep()
    if result.more and not self.request.is_eager:
        self.apply_async(countdown=1)  # a backlog: keep going in bounded steps
    return {"requeued": result.requeued, "lease_expired": result.lease_expired, "failed": result.failed}


@shared_task(
    bind=True,
    name="notices.notify_breach_batch",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_breach_batch(self, breach_id: int, batch_size: int = 500) -> dict:
    result = services.breach_notify_batch(breach_id=breach_id, batch_size=batch_size)
    if not self.request.is_eager:
        if not result.done:
            self.apply_async(args=[breach_id], kwargs={"batch_size": batch_size})
        return {"processed": result.processed, "done": result.done}
    # In-process (no broker): loop instead of recursing one stack frame per batch.
    processed = result.processed
    while not result.done:
        result = services.breach_notify_batch(breach_id=breach_id, batch_size=batch_size)
        processed += result.processed
    return {"processed": processed, "done": True}


@shared_task(name="notices.resume_breach_notifications", acks_late=True)
def resume_breach_notifications() -> list[int]:
    return services.breach_resume_stalled()


@shared_task(name="notices.breach_clock_reminders", acks_late=True)
def breach_clock_reminders() -> int:
    return services.breach_clock_reminders()
