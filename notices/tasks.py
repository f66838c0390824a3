"""Celery tasks of the notices app. They take ids only (never addresses or text) and call one service.

Every task is based on core.tasks.PrivacyTask: acks_late, and retries only when the database or the
broker went away (exponential backoff with jitter, bounded). deliver_notice is idempotent (the
service claims the row before sending, see notices.services.delivery), so acks_late is safe: a
message redelivered after a worker died finds nothing left to claim.
"""

import logging

from celery import shared_task

from core.tasks import PrivacyTask

from . import services

logger = logging.getLogger("notices")


@shared_task(
    bind=True,
    base=PrivacyTask,
    name="notices.deliver_notice",
    soft_time_limit=90,
    time_limit=120,
)
def deliver_notice(self, notice_id: int) -> str:
    """Deliver one notice. A failed send is recorded on the row with its next attempt time; this task
    then retries itself with that computed countdown (the row's attempt count, notices.rules.max_attempts,
    bounds it, hence max_retries=None on this retry). It is the one retry outside PrivacyTask's policy:
    the service already caught the error, so nothing would be retried otherwise."""
    outcome = services.notice_deliver(notice_id=notice_id)
    if outcome.result == "retry" and outcome.retry_in is not None and not self.request.is_eager:
        # The row is pending with next_attempt_at; this re-run claims it once due. If this message
        # is lost, the beat sweep re-queues the notice.
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.result


@shared_task(
    bind=True,
    base=PrivacyTask,
    name="notices.deliver_notice_batch",
    soft_time_limit=600,
    time_limit=660,
)
def deliver_notice_batch(self, first_id: int, last_id: int) -> dict:
    """Deliver the due pending notices with ids first_id..last_id over one SMTP connection
    (notices.services.notice_deliver_range; ids as two numbers, never a list of anything else).
    Transient failures are recorded on their rows with the next attempt time; this task queues one
    range per backoff delay for them (bounded by the rows' attempt counts, as deliver_notice)."""
    result = services.notice_deliver_range(first_id=first_id, last_id=last_id)
    if not self.request.is_eager:
        for delay, ids in result.retry.items():
            # If this message is lost, the beat sweep re-queues the notices.
            self.apply_async(args=[min(ids), max(ids)], countdown=delay)
    return {
        "sent": len(result.sent),
        "failed": len(result.failed),
        "cancelled": len(result.cancelled),
        "retry": sum(map(len, result.retry.values())),
        "skipped": result.skipped,
    }


@shared_task(bind=True, base=PrivacyTask, name="notices.sweep_outbox")
def sweep_outbox(self) -> dict:
    """The beat sweep of the outbox; with a backlog it queues its own next step (not a retry)."""
    result = services.outbox_sweep()
    if result.more and not self.request.is_eager:
        self.apply_async(countdown=1)  # a backlog: keep going in bounded steps
    return {"requeued": result.requeued, "lease_expired": result.lease_expired, "failed": result.failed}


@shared_task(bind=True, base=PrivacyTask, name="notices.notify_breach_batch")
def notify_breach_batch(self, breach_id: int, batch_size: int = 500) -> dict:
    """One batch of a breach's notification; queues the next until the selection is done."""
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


@shared_task(base=PrivacyTask, name="notices.resume_breach_notifications")
def resume_breach_notifications() -> list[int]:
    return services.breach_resume_stalled()


@shared_task(base=PrivacyTask, name="notices.breach_clock_reminders")
def breach_clock_reminders() -> int:
    return services.breach_clock_reminders()
