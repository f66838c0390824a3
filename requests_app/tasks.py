"""Celery tasks: ids in, one service call each, idempotent, acks_late, bounded retries with backoff."""

from celery import shared_task

from . import fulfilment, services

MAX_RETRIES = 3


def _backoff(retries: int) -> int:
    return min(60 * 2**retries, 900)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, name="requests_app.run_fulfilment")
def run_fulfilment(self, attempt_id: int) -> str:
    try:
        return fulfilment.fulfilment_run(attempt_id=attempt_id)
    except fulfilment.FulfilmentRetry as exc:
        if self.request.retries >= MAX_RETRIES:
            fulfilment.fulfilment_give_up(attempt_id=attempt_id, error=str(exc))
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, name="requests_app.notify_recipient")
def notify_recipient(self, notification_id: int) -> str:
    try:
        return fulfilment.recipient_notify(notification_id=notification_id)
    except Exception as exc:
        if self.request.retries >= MAX_RETRIES:
            fulfilment.recipient_notify_failed(notification_id=notification_id, error=type(exc).__name__)
            return "failed"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(acks_late=True, name="requests_app.fulfilment_watchdog")
def fulfilment_watchdog() -> dict:
    return fulfilment.fulfilment_watchdog()


@shared_task(acks_late=True, name="requests_app.send_reminders")
def send_reminders() -> dict:
    return services.reminders_send()


@shared_task(acks_late=True, name="requests_app.purge_expired_packages")
def purge_expired_packages() -> int:
    return fulfilment.packages_purge_expired()
