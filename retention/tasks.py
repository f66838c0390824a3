"""Celery tasks of the retention sweep and of legal hold expiry. Each takes ids, calls one service, and is safe to run twice.

Fan-out: `retention.sweep` (beat, daily) opens or resumes a run, plans it and enqueues one
`sweep_batch` per (schedule, model, primary-key range), so several workers share the work; planning
in the same task saves a broker round trip on every run. `sweep_dispatch` does the planning part alone
for runs opened elsewhere (the admin's "sweep now"). The batch that completes last closes the run
(completions are counted in the database, so no result backend or chord is needed: the three sweep
tasks ignore their results, sparing a result-backend write per task where one is configured).

`sweep` and `sweep_dispatch` follow the shared retry policy (core.tasks.PrivacyTask: connection errors
only). `sweep_batch` keeps its own retry, for a documented reason: a batch must always end DONE or
FAILED, or its run never closes, so any error is retried a few times with a computed countdown and,
after the last retry, recorded on the batch (`sweep_batch_fail`); the run then finishes with the error
counted and the next run picks up the records left over.
"""

import logging

from celery import shared_task

from core.tasks import PrivacyTask

from . import services
from .models import SweepRun

logger = logging.getLogger(__name__)

# Retries of one sweep batch before it is recorded as failed (4 attempts in all).
BATCH_MAX_RETRIES = 3


def batch_backoff(retries: int) -> int:
    """Seconds before a batch's next attempt: 30 s doubling, at most 10 minutes."""
    return min(600, 30 * 2**retries)


@shared_task(base=PrivacyTask, name="retention.sweep", ignore_result=True)
def sweep() -> int:
    """The daily sweep (django-celery-beat). Resumes an unfinished run instead of starting a second one."""
    run = services.sweep_request(
        actor=services.SWEEP_ACTOR, trigger=SweepRun.Trigger.SCHEDULE, dispatch=False, plan=True
    )
    _enqueue(run.pending)  # committed with the run: a worker taking a batch finds it
    return run.pk


def _enqueue(pending: list[int]) -> int:
    for batch_id in pending:
        sweep_batch.delay(batch_id)
    return len(pending)


def _enqueue_pending(run_id: int) -> int:
    return _enqueue(services.sweep_plan(run_id=run_id))


@shared_task(base=PrivacyTask, name="retention.sweep_dispatch", ignore_result=True)
def sweep_dispatch(run_id: int) -> int:
    """Plan the run's batches (once) and enqueue every batch still pending."""
    return _enqueue_pending(run_id)


# autoretry_for=(): the explicit retry below is the only one (see the module docstring for why).
@shared_task(base=PrivacyTask, bind=True, name="retention.sweep_batch", autoretry_for=(),
             max_retries=BATCH_MAX_RETRIES, ignore_result=True)  # fmt: skip
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
        raise self.retry(exc=exc, countdown=batch_backoff(self.request.retries)) from None


@shared_task(base=PrivacyTask, name="retention.holds_expire")
def holds_expire() -> int:
    """Daily (beat): release holds past their end date, so the erasures they deferred resume."""
    return len(services.legal_holds_expire())
