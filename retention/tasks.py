"""Celery tasks of the retention sweep. Each takes ids, calls one service, and is safe to run twice.

Fan-out: `retention.sweep` (beat, daily) opens or resumes a run, plans it and enqueues one
`sweep_batch` per (schedule, model, primary-key range), so several workers share the work; planning
in the same task saves a broker round trip on every run. `sweep_dispatch` does the planning part alone
for runs opened elsewhere (the admin's "sweep now"). The batch that completes last closes the run
(completions are counted in the database, so no result backend or chord is needed).
"""

import logging

from celery import shared_task

from . import services
from .models import SweepRun

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


def _backoff(retries: int) -> int:
    return min(600, 30 * 2**retries)


@shared_task(name="retention.sweep", acks_late=True, autoretry_for=(Exception,), max_retries=MAX_RETRIES,
             retry_backoff=30, retry_backoff_max=600)  # fmt: skip
def sweep() -> int:
    """The daily sweep (django-celery-beat). Resumes an unfinished run instead of starting a second one."""
    run = services.sweep_request(
        actor=services.SWEEP_ACTOR, trigger=SweepRun.Trigger.SCHEDULE, dispatch=False
    )
    _enqueue_pending(run.pk)
    return run.pk


def _enqueue_pending(run_id: int) -> int:
    pending = services.sweep_plan(run_id=run_id)
    for batch_id in pending:
        sweep_batch.delay(batch_id)
    return len(pending)


@shared_task(name="retention.sweep_dispatch", acks_late=True, autoretry_for=(Exception,),
             max_retries=MAX_RETRIES, retry_backoff=30, retry_backoff_max=600)  # fmt: skip
def sweep_dispatch(run_id: int) -> int:
    """Plan the run's batches (once) and enqueue every batch still pending."""
    return _enqueue_pending(run_id)


@shared_task(bind=True, name="retention.sweep_batch", acks_late=True, max_retries=MAX_RETRIES)
def sweep_batch(self, batch_id: int) -> int:
    """Erase one batch's expired records window by window; after the last retry, record the failure."""
    try:
        return services.sweep_batch_process(batch_id=batch_id).erased
    except Exception as exc:
        # The class name only: database error texts may quote row values.
        code = type(exc).__name__
        if self.request.retries >= self.max_retries:
            logger.error(
                "retention.sweep_batch %s gave up after %s retries: %s", batch_id, self.max_retries, code
            )
            services.sweep_batch_fail(batch_id=batch_id, error_code=code)
            return 0
        logger.warning("retention.sweep_batch %s failed (%s); retrying", batch_id, code)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None
