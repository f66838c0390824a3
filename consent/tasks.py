"""Celery tasks: take ids, call one service, safe to run twice (acks_late).

Retries come from core.tasks.PrivacyTask: only lost database/broker connections, with bounded
exponential backoff and jitter; a business error is never retried.
"""

from celery import shared_task

from core.tasks import PrivacyTask

from . import services


@shared_task(name="consent.policy_change_notify", base=PrivacyTask)
def policy_change_notify(policy_version_id: int, batch_size: int = 500) -> bool:
    """Enqueue one batch of 'policy changed' notices, then re-queue itself while subjects remain."""
    more = services.policy_change_notices_enqueue_batch(
        policy_version_id=policy_version_id, batch_size=batch_size, actor="consent.policy_change_notify"
    )
    if more:
        policy_change_notify.delay(policy_version_id, batch_size)
    return more


@shared_task(name="consent.expiry_sweep", base=PrivacyTask)
def consent_expiry_sweep() -> int:
    """Daily: list subjects whose consent expired, to ask them again (ReconsentRequest)."""
    return services.consent_expiry_sweep(actor="consent.expiry_sweep")
