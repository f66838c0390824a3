"""Helpers the notices use cases share: queueing tasks after commit, redacting stored failure reasons."""

import logging
import re

logger = logging.getLogger("notices")

_EMAIL_RE = re.compile(r"[^\s<>@'\"(),;:]+@[^\s<>@'\"(),;:]+")


def redact(text: str) -> str:
    """Failure reasons are stored and shown: strip anything that looks like an address."""
    return _EMAIL_RE.sub("<address>", text)


def dispatch_notices(notice_ids: list[int]) -> None:
    """Queue delivery tasks (ids only). Called after commit; a failure leaves rows for the sweep."""
    from ..tasks import deliver_notice

    for notice_id in notice_ids:
        try:
            deliver_notice.delay(notice_id)
        except Exception:  # broker down: the row stays pending and the beat sweep re-queues it
            logger.exception("Could not queue delivery of notice %s; the outbox sweep will retry.", notice_id)


def dispatch_breach(breach_id: int) -> None:
    """Queue the next notification batch of a breach; a failure is picked up by the stalled sweep."""
    from ..tasks import notify_breach_batch

    try:
        notify_breach_batch.delay(breach_id)
    except Exception:
        logger.exception(
            "Could not queue the notification of breach %s; the sweep will resume it.", breach_id
        )
