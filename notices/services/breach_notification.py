"""Notifying the subjects affected by a breach: freeze the selection, then batches through the outbox."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataSubject

from .. import rules
from ..models import Breach, BreachStatus, NoticeKind
from ..selectors import breach_affected_counts, breach_affected_subjects, breach_notice_context
from . import common
from .breaches import REQUIRED_FOR_NOTICE
from .bulk_enqueue import BulkItem, notice_enqueue_many
from .enqueue import recipient_address

logger = logging.getLogger("notices")


@transaction.atomic
def breach_notify_start(*, breach_id: int, actor: Actor = None) -> Breach:
    """Freeze the affected subjects (up to the highest id matching now), count California residents,
    and start notifying them in batches through the outbox."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.status != BreachStatus.DRAFT:
        raise ValidationError(f"Notification of '{breach}' has already started.")
    missing = [label for field, label in REQUIRED_FOR_NOTICE.items() if not getattr(breach, field).strip()]
    if not breach.information_involved.strip() and not breach.categories.exists():
        missing.append("What Information Was Involved")
    if missing:
        raise ValidationError(f"The notice needs these sections before it can be sent: {', '.join(missing)}.")
    if not breach.selection:
        raise ValidationError("Select the affected subjects (by category, region, dates or a list) first.")
    counts = breach_affected_counts(breach.selection)
    if counts.total == 0:
        raise ValidationError("The selection matches no subject: nobody would be notified.")
    now = timezone.now()
    breach.status = BreachStatus.NOTIFYING
    breach.notify_total = counts.total
    breach.ca_residents_count = counts.ca_residents
    breach.notify_max_subject_id = breach_affected_subjects(breach.selection).aggregate(m=Max("pk"))["m"]
    breach.notify_cursor = 0
    breach.notify_started_at = breach.notify_heartbeat_at = now
    breach.save()
    audit_record(
        action="breach.notification_started",
        actor=actor,
        target=breach,
        details={"total": counts.total, "ca_residents": counts.ca_residents, "ag_sample_required": breach.ag_sample_required},
    )  # fmt: skip
    transaction.on_commit(lambda: common.dispatch_breach(breach.pk), robust=True)
    return breach


@dataclass(frozen=True)
class BreachBatchResult:
    breach_id: int
    processed: int
    enqueued: int
    skipped: int
    done: bool


def breach_notify_batch(*, breach_id: int, batch_size: int = 500) -> BreachBatchResult:
    """Notify the next batch of affected subjects (by id, from the stored cursor) in one transaction.

    The batch goes through notice_enqueue_many: its keys checked in one query, its rows written in one
    statement, one audit event listing them, so the cost per batch does not grow with its size.
    Resumable and idempotent: a crashed batch rolls back whole, and each subject's notice has the key
    `breach:<breach id>:subject:<subject id>`, so a subject is never notified twice.
    """
    with transaction.atomic():
        breach = Breach.objects.select_for_update().get(pk=breach_id)
        if breach.status != BreachStatus.NOTIFYING:
            return BreachBatchResult(breach_id, 0, 0, 0, done=True)
        subjects = list(
            breach_affected_subjects(breach.selection)
            .filter(pk__gt=breach.notify_cursor, pk__lte=breach.notify_max_subject_id or 0)
            .order_by("pk")
            .only("pk", "name", "email", "erased_at")[:batch_size]
        )
        items = _breach_items(breach, subjects)
        if items:
            notice_enqueue_many(
                kind=NoticeKind.BREACH_NOTIFICATION,
                items=items,
                breach=breach,
                actor="notices.notify_breach_batch",
            )
        enqueued, skipped = len(items), len(subjects) - len(items)
        done = len(subjects) < batch_size
        _record_progress(breach, subjects=subjects, enqueued=enqueued, skipped=skipped, done=done)
    return BreachBatchResult(breach_id, len(subjects), enqueued, skipped, done)


def _breach_items(breach: Breach, subjects: list[DataSubject]) -> list[BulkItem]:
    """One item per subject with a valid address; the others are counted skipped, left for a postal
    notice (checked here, one by one: the bulk service refuses a whole batch on one bad address)."""
    context = breach_notice_context(breach)
    items = []
    for subject in subjects:
        try:
            recipient_address(subject=subject, to_email=None)
        except ValidationError:
            continue
        items.append(BulkItem(f"breach:{breach.pk}:subject:{subject.pk}", context, subject=subject))
    return items


def _record_progress(
    breach: Breach, *, subjects: list[DataSubject], enqueued: int, skipped: int, done: bool
) -> None:
    now = timezone.now()
    if subjects:
        breach.notify_cursor = subjects[-1].pk
    breach.notify_processed += len(subjects)
    breach.notify_enqueued += enqueued
    breach.notify_skipped += skipped
    breach.notify_heartbeat_at = now
    if done:
        breach.status = BreachStatus.NOTIFIED
        breach.notify_finished_at = now
    breach.save(
        update_fields=[
            "notify_cursor", "notify_processed", "notify_enqueued", "notify_skipped", "notify_heartbeat_at",
            "status", "notify_finished_at", "updated_at",
        ]
    )  # fmt: skip
    audit_record(
        action="breach.notification_finished" if done else "breach.notification_batch",
        actor="notices.notify_breach_batch",
        target=breach,
        details={"processed": len(subjects), "enqueued": enqueued, "skipped": skipped,
                 "cursor": breach.notify_cursor},
    )  # fmt: skip


def breach_resume_stalled() -> list[int]:
    """Breaches whose notification stopped (worker lost, broker down) get their next batch queued."""
    cutoff = timezone.now() - rules.sending_lease()
    stalled = list(
        Breach.objects.filter(status=BreachStatus.NOTIFYING, notify_heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for breach_id in stalled:
        logger.warning("Breach %s notification stalled; queuing its next batch.", breach_id)
        common.dispatch_breach(breach_id)
    return stalled
