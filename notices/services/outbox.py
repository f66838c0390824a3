"""Keeping the outbox moving: an operator's retry or cancel, and the beat sweep that re-queues
orphaned notices and re-examines expired claims (see notices.services.delivery for the window)."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor

from .. import rules
from ..models import Notice, NoticeStatus
from . import common
from .delivery import cancel_reason

logger = logging.getLogger("notices")


@transaction.atomic
def notice_retry(*, notice_id: int, actor: Actor = None) -> Notice:
    """Queue a failed notice again (attempts start over), or deliver a waiting one now."""
    notice = Notice.objects.select_for_update().get(pk=notice_id)
    if notice.status not in (NoticeStatus.FAILED, NoticeStatus.PENDING):
        raise ValidationError(
            f"Only failed or pending notices can be retried; notice {notice} is {notice.get_status_display().lower()}."
        )
    if cancel_reason(notice).startswith("erased"):
        raise ValidationError(f"Notice {notice} can't be retried: its address or text was erased.")
    previous = notice.status
    now = timezone.now()
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.PENDING, attempts=0, next_attempt_at=None, failed_at=None, dispatched_at=now
    )
    audit_record(
        action="notice.retry_requested",
        actor=actor,
        target=notice,
        subject_id=notice.subject_id,
        details={"previous_status": previous},
    )
    transaction.on_commit(lambda: common.dispatch_notices([notice.pk]), robust=True)
    notice.refresh_from_db()
    return notice


@transaction.atomic
def notice_cancel(*, notice_id: int, reason: str, actor: Actor = None) -> Notice:
    """Stop a pending or failed notice from being sent (e.g. queued to the wrong recipients)."""
    if not reason.strip():
        raise ValidationError("Say why the notice is cancelled.")
    notice = Notice.objects.select_for_update().get(pk=notice_id)
    if notice.status not in (NoticeStatus.PENDING, NoticeStatus.FAILED):
        raise ValidationError(
            f"Notice {notice} is {notice.get_status_display().lower()} and can't be cancelled."
        )
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.CANCELLED,
        cancelled_at=timezone.now(),
        last_error=f"cancelled by operator: {reason}"[:1000],
    )
    audit_record(action="notice.cancelled", actor=actor, target=notice, subject_id=notice.subject_id,
                 details={"reason": "operator"})  # fmt: skip
    notice.refresh_from_db()
    return notice


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    lease_expired: int
    failed: int
    more: bool


def outbox_sweep(*, limit: int = 2000) -> SweepResult:
    """Re-queue orphaned pending notices and re-examine `sending` notices whose lease has expired.

    Orphaned: pending, due, and its last task queued more than the dispatch grace ago (the on-commit
    dispatch was lost, the broker was down, or a retry message vanished). Expired lease: the worker
    stopped between claim and record; the outcome at the mail server is unknown, so the notice is
    re-queued (at-least-once, see the module docstring) or, when out of attempts, marked failed.
    """
    now = timezone.now()
    lease_cutoff = now - rules.sending_lease()
    grace_cutoff = now - rules.dispatch_grace()
    with transaction.atomic():
        stale = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(status=NoticeStatus.SENDING, claimed_at__lt=lease_cutoff)
            .order_by("pk")
            .values_list("pk", "attempts", "subject_id")[:limit]
        )
        exhausted = [pk for pk, attempts, _ in stale if attempts >= rules.max_attempts()]
        revived = [pk for pk, attempts, _ in stale if attempts < rules.max_attempts()]
        unknown = "lease expired: the worker stopped while sending; the mail server may have accepted it"
        if exhausted:
            Notice.objects.filter(pk__in=exhausted, status=NoticeStatus.SENDING).update(
                status=NoticeStatus.FAILED, failed_at=now, last_error=f"gave up, outcome unknown ({unknown})"
            )
        if revived:
            Notice.objects.filter(pk__in=revived, status=NoticeStatus.SENDING).update(
                status=NoticeStatus.PENDING,
                next_attempt_at=now,
                dispatched_at=now,
                last_error=f"{unknown}; re-queued, a duplicate is possible",
            )
        for pk, attempts, subject_id in stale:
            audit_record(
                action="notice.lease_expired",
                target_type="notices.notice",
                target_id=pk,
                subject_id=subject_id,
                details={"attempts": attempts, "requeued": pk in revived},
            )
        orphans = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(status=NoticeStatus.PENDING)
            .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=grace_cutoff))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=grace_cutoff))
            .order_by("pk")
            .values_list("pk", flat=True)[: max(0, limit - len(revived))]
        )
        if orphans:
            Notice.objects.filter(pk__in=orphans).update(dispatched_at=now)
        to_dispatch = revived + orphans
        if to_dispatch or exhausted:
            audit_record(
                action="notice.outbox_swept",
                actor="notices.sweep_outbox",
                details={"requeued": len(orphans), "lease_expired": len(stale), "failed": len(exhausted)},
            )
            logger.info(
                "Outbox sweep: %s orphaned re-queued, %s expired leases, %s failed.",
                len(orphans),
                len(stale),
                len(exhausted),
            )
        transaction.on_commit(lambda: common.dispatch_notices(to_dispatch), robust=True)
    return SweepResult(
        requeued=len(orphans),
        lease_expired=len(stale),
        failed=len(exhausted),
        more=len(stale) + len(orphans) >= limit,
    )
