"""Celery tasks of the connectors app: ids in, one service call (retry policy: core.tasks.PrivacyTask)."""

from celery import shared_task

from core.tasks import PrivacyTask


@shared_task(base=PrivacyTask, acks_late=True, name="connectors.run_system")
def run_system(run_id: int) -> None:
    """One (case, system) run; idempotent (a done run is left alone, an erasure resumes from its journal)."""
    from .services import system_run_execute

    system_run_execute(run_id=run_id)


@shared_task(base=PrivacyTask, acks_late=True, name="connectors.manual_tasks_remind")
def manual_tasks_remind() -> None:
    """Daily: reminders and escalation of manual system tasks (idempotent: each is sent once)."""
    from .manual import manual_tasks_remind as remind

    remind()


@shared_task(base=PrivacyTask, bind=True, acks_late=True, name="connectors.opt_out_run")
def opt_out_run(self, run_id: int) -> str:
    """An opt-out outside a case (a withdrawal, an unsubscribe link): nobody watches a case page, so a
    failed run (its error recorded on the run) is retried here on PrivacyTask's schedule (exponential
    backoff with jitter, at most MAX_RETRIES); after the last one it stays failed for an officer."""
    from celery.utils.time import get_exponential_backoff_interval

    from .services import system_run_execute

    run = system_run_execute(run_id=run_id)
    status = run.status if run is not None else "busy"
    if status in ("failed", "busy") and self.request.retries < self.max_retries:
        countdown = get_exponential_backoff_interval(
            self.retry_backoff, self.request.retries, self.retry_backoff_max, self.retry_jitter
        )
        raise self.retry(countdown=countdown)
    return status
