"""Writes of the notices app: the transactional outbox and its delivery, templates, breaches.

- enqueue.py               putting a notice in the outbox (in the caller's transaction), idempotent
- delivery.py              claim, send, record one notice; the at-least-once window, explained
- bulk_enqueue.py          many notices of one kind in one transaction, a fixed number of statements
- batch_delivery.py        claim, send (one SMTP connection) and record a batch of notices
- outbox.py                an operator's retry or cancel, the beat sweep of orphans and expired claims
- templates.py             template validation, versioned saves
- breaches.py              the breach register: record, change, authority and AG records, close
- breach_notification.py   notifying the affected subjects in resumable batches
- reminders.py             breach clock reminders to the privacy office

Other apps use the names re-exported here, not the modules.
"""

from .batch_delivery import BatchDeliveryResult, notice_deliver_batch, notice_deliver_range
from .breach_notification import (
    BreachBatchResult,
    breach_notify_batch,
    breach_notify_start,
    breach_resume_stalled,
)
from .breaches import (
    REQUIRED_FOR_NOTICE,
    SELECTION_KEYS,
    breach_close,
    breach_record,
    breach_record_ag_sample,
    breach_record_authority_notification,
    breach_save,
    breach_selection_clean,
)
from .bulk_enqueue import BulkEnqueueResult, BulkItem, notice_enqueue_many
from .delivery import DeliveryOutcome, build_message, notice_deliver
from .enqueue import MarketingNotAllowed, notice_enqueue, outbox_insert
from .outbox import SweepResult, notice_cancel, notice_retry, outbox_sweep
from .reminders import breach_clock_reminders
from .templates import (
    notice_template_check,
    notice_template_create,
    notice_template_save,
    notice_template_validate,
)

__all__ = [
    "REQUIRED_FOR_NOTICE",
    "SELECTION_KEYS",
    "BatchDeliveryResult",
    "BreachBatchResult",
    "BulkEnqueueResult",
    "BulkItem",
    "DeliveryOutcome",
    "MarketingNotAllowed",
    "SweepResult",
    "breach_clock_reminders",
    "breach_close",
    "breach_notify_batch",
    "breach_notify_start",
    "breach_record",
    "breach_record_ag_sample",
    "breach_record_authority_notification",
    "breach_resume_stalled",
    "breach_save",
    "breach_selection_clean",
    "build_message",
    "notice_cancel",
    "notice_deliver",
    "notice_deliver_batch",
    "notice_deliver_range",
    "notice_enqueue",
    "notice_enqueue_many",
    "notice_retry",
    "notice_template_check",
    "notice_template_create",
    "notice_template_save",
    "notice_template_validate",
    "outbox_insert",
    "outbox_sweep",
]
