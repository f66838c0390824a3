"""The one retry policy of every Celery task.

Only infrastructure failures are retried (the database or the broker went away): a business error
retried would fail the same way and hide the cause. Backoff is exponential with jitter and bounded,
so a restarted database is not hit by every worker at once.
"""

from celery import Task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

RETRYABLE = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError)
MAX_RETRIES = 5


class PrivacyTask(Task):
    """Base for every task: `@shared_task(base=PrivacyTask, ...)`; ids in, one service call."""

    abstract = True
    acks_late = True
    autoretry_for = RETRYABLE
    max_retries = MAX_RETRIES
    retry_backoff = 10
    retry_backoff_max = 600
    retry_jitter = True
