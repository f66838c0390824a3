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


def dispatch_notice_batches(notice_ids: list[int]) -> None:
    """Queue batched delivery: one task per NOTICES_DELIVERY_BATCH ids, given as its first and last id
    (numbers only). Called after commit; a failure leaves the rows pending for the beat sweep."""
    from .. import conf
    from ..tasks import deliver_notice_batch

    size = conf.delivery_batch_size()
    ordered = sorted(notice_ids)
    for start in range(0, len(ordered), size):
        chunk = ordered[start : start + size]
        try:
            deliver_notice_batch.delay(chunk[0], chunk[-1])
        except Exception:  # broker down: the rows stay pending and the beat sweep re-queues them
            logger.exception(
                "Could not queue delivery of %s notices; the outbox sweep will retry.", len(chunk)
            )
