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
