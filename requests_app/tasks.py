"""Celery tasks: ids in, one service call each, idempotent; all on core.tasks.PrivacyTask (acks_late,
retries only for database/broker connection errors, exponential backoff with jitter).

Two tasks keep an explicit retry of their own, because exhausting the retries must leave a visible
trace for an officer, which a plain autoretry can't do:
- run_fulfilment: the attempt is marked failed and the case flagged (`fulfilment_give_up`). A handler's
  crash is reported as FulfilmentRetry (database, broker or disk: reasons that may pass); business
  refusals are not retried (the service flags them at once).
- notify_recipient: the notification is marked failed. Only connection errors are retried; anything
  else fails it at once.
"""

from celery import shared_task

from core.tasks import RETRYABLE, PrivacyTask

from . import services

MAX_RETRIES = 3


def _backoff(retries: int) -> int:
    """Explicit countdown for the two tasks above: 60 s doubling, at most 15 minutes."""
    return min(60 * 2**retries, 900)


@shared_task(bind=True, base=PrivacyTask, max_retries=MAX_RETRIES, name="requests_app.run_fulfilment")
def run_fulfilment(self, attempt_id: int) -> str:
    try:
        return services.fulfilment_run(attempt_id=attempt_id)
    except services.FulfilmentRetry as exc:
        if self.request.retries >= MAX_RETRIES:
            services.fulfilment_give_up(attempt_id=attempt_id, error=str(exc))
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, base=PrivacyTask, max_retries=MAX_RETRIES, name="requests_app.notify_recipient")
def notify_recipient(self, notification_id: int) -> str:
    try:
        return services.recipient_notify(notification_id=notification_id)
    except RETRYABLE as exc:
        if self.request.retries >= MAX_RETRIES:
            services.recipient_notify_failed(notification_id=notification_id, error=type(exc).__name__)
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except Exception as exc:
        # Retrying would fail the same way: fail it visibly now (the type only, text may quote data).
        services.recipient_notify_failed(notification_id=notification_id, error=type(exc).__name__)
        return "failed"


@shared_task(base=PrivacyTask, name="requests_app.fulfilment_watchdog")
def fulfilment_watchdog() -> dict:
    return services.fulfilment_watchdog()


@shared_task(base=PrivacyTask, name="requests_app.send_reminders")
def send_reminders() -> dict:
    return services.reminders_send()


@shared_task(base=PrivacyTask, name="requests_app.purge_expired_packages")
def purge_expired_packages() -> int:
    return services.packages_purge_expired()


@shared_task(base=PrivacyTask, name="requests_app.resume_erasure")
def resume_erasure(case_id: int) -> str:
    """A legal hold was released: the erasure it deferred runs again (retention.hooks)."""
    return services.erasure_resume(case_id=case_id)


@shared_task(base=PrivacyTask, name="requests_app.open_public_intake")
def open_public_intake(submission_id: int) -> str:
    return services.public_intake_open(submission_id=submission_id)


@shared_task(base=PrivacyTask, name="requests_app.requeue_public_intake")
def requeue_public_intake() -> int:
    return services.public_intake_requeue_stale()
