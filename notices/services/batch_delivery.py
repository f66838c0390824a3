"""Delivering notices in batches: one claim, one SMTP connection, one recorded outcome per batch.

`notice_deliver_batch` (run by the `deliver_notice_batch` task, which takes ids only) keeps every
guarantee of the single path (notices.services.delivery) at a fixed number of round trips per batch:

1. claim: the pending, due notices among the ids, locked with FOR UPDATE SKIP LOCKED (a second worker
   on the same ids skips them) and moved to `sending` under one claim token, in one transaction;
2. check at send time, per notice: its text or address erased (the subject was erased) -> cancelled;
   a marketing notice whose consent is gone -> cancelled (the marketing gate, asked now);
3. send over ONE SMTP connection (Django's `get_connection()`, opened once, `send_messages` per
   message so each gets its own outcome). A per-recipient 5xx fails that notice for good; a 4xx, a
   timeout or a dropped connection is transient: the notice is retried with backoff, the connection
   is reopened and the rest of the batch continues;
4. record every outcome of the batch in one UPDATE (guarded by the claim token, as the single path),
   with one audit event listing what was sent, retried, failed and cancelled.

The at-least-once window is the single path's: a worker that dies between the server's acceptance
and step 4 leaves its notices `sending`, and the beat sweep re-queues them once the lease expires.
"""

import logging
import smtplib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.mail import BadHeaderError, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_record
from inventory.models import DataSubject

from .. import rules
from ..models import Notice, NoticeStatus
from . import common
from .delivery import build_message, cancel_reason, forget_if_subject_erased

logger = logging.getLogger("notices")


MAX_CLAIM = 1000  # a bound on one claim, whatever the range holds


@dataclass
class BatchDeliveryResult:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    retry: dict[float, list[int]] = field(default_factory=dict)  # seconds of backoff -> ids
    skipped: int = 0  # not claimable: already sent, claimed by another worker, not due


@dataclass(frozen=True)
class _Outcome:
    status: str  # NoticeStatus value
    error: str = ""
    next_attempt_at: datetime | None = None


def is_permanent(exc: BaseException) -> bool:
    """5xx for every refused recipient, or a malformed message, can't be fixed by retrying; a 4xx
    ("mailbox busy, try later"), a timeout or a dropped connection can."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, BadHeaderError | ValueError)


def notice_deliver_batch(*, notice_ids: list[int]) -> BatchDeliveryResult:
    """Claim, send and record a batch of notices; safe to call any number of times (see above)."""
    return _deliver(Q(pk__in=notice_ids), expected=len(set(notice_ids)))


def notice_deliver_range(*, first_id: int, last_id: int) -> BatchDeliveryResult:
    """notice_deliver_batch for the due pending notices with ids from first_id to last_id: what the
    task runs (task arguments are numbers only). A notice of another caller inside the range is
    delivered with the batch; its own task then finds nothing to claim."""
    return _deliver(Q(pk__gte=first_id, pk__lte=last_id), expected=None)


def _deliver(which: Q, *, expected: int | None) -> BatchDeliveryResult:
    token = uuid.uuid4()
    claimed = _claim(which=which, token=token)
    result = BatchDeliveryResult(skipped=max(0, expected - len(claimed)) if expected is not None else 0)
    if not claimed:
        return result
    outcomes: dict[int, _Outcome] = {}
    to_send = []
    for notice in claimed:
        reason = cancel_reason(notice)
        if reason:
            outcomes[notice.pk] = _Outcome(NoticeStatus.CANCELLED, reason)
        else:
            to_send.append(notice)
    outcomes.update(_send_all(to_send))
    _record(claimed=claimed, outcomes=outcomes, token=token, result=result)
    return result


def _claim(*, which: Q, token: uuid.UUID) -> list[Notice]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(which, status=NoticeStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("pk")
            .values_list("pk", flat=True)[:MAX_CLAIM]
        )
        if not ids:
            return []
        Notice.objects.filter(pk__in=ids).update(
            status=NoticeStatus.SENDING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1
        )
    return list(Notice.objects.filter(pk__in=ids, claim_token=token).order_by("pk"))


def _send_all(notices: list[Notice]) -> dict[int, _Outcome]:
    """Send over one connection; after a transient connection failure, reopen it once per notice."""
    outcomes: dict[int, _Outcome] = {}
    if not notices:
        return outcomes
    mailer = get_connection(fail_silently=False, timeout=rules.smtp_timeout())
    try:
        broken = _open(mailer)
        for notice in notices:
            if broken is not None:  # the server can't be reached: the rest waits for a retry
                outcomes[notice.pk] = _failure(notice, broken)
                continue
            try:
                if mailer.send_messages([build_message(notice, connection=mailer)]) != 1:
                    raise smtplib.SMTPException("the email backend accepted no message")
                outcomes[notice.pk] = _Outcome(NoticeStatus.SENT)
            except Exception as exc:  # recorded on the row; nothing propagates to Celery
                outcomes[notice.pk] = _failure(notice, exc)
                if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                    mailer.close()  # the session state is unknown: start a fresh one
                    broken = _open(mailer)
    finally:
        mailer.close()
    return outcomes


def _open(mailer) -> Exception | None:
    try:
        mailer.open()
    except Exception as exc:
        mailer.close()
        return exc
    return None


def _failure(notice: Notice, exc: BaseException) -> _Outcome:
    reason = common.redact(f"{type(exc).__name__}: {exc}")[:1000]
    permanent = is_permanent(exc)
    if permanent or notice.attempts >= rules.max_attempts():
        why = "permanent failure" if permanent else f"gave up after {notice.attempts} attempts"
        return _Outcome(NoticeStatus.FAILED, f"{why}: {reason}")
    delay = rules.retry_delay(notice.attempts)
    return _Outcome(NoticeStatus.PENDING, reason, timezone.now() + delay)


_RECORD_SQL = """
UPDATE notices_notice AS n SET
    status = v.status,
    sent_at = CASE WHEN v.status = 'sent' THEN t.at ELSE n.sent_at END,
    failed_at = CASE WHEN v.status = 'failed' THEN t.at ELSE n.failed_at END,
    cancelled_at = CASE WHEN v.status = 'cancelled' THEN t.at ELSE n.cancelled_at END,
    next_attempt_at = CASE WHEN v.status = 'pending' THEN v.next_at
                           WHEN v.status = 'sent' THEN NULL ELSE n.next_attempt_at END,
    dispatched_at = CASE WHEN v.status = 'pending' THEN t.at ELSE n.dispatched_at END,
    last_error = CASE WHEN v.status = 'sent' THEN n.last_error ELSE v.err END
FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[])
     AS v(id, status, next_at, err), (SELECT %s::timestamptz AS at) AS t(at)
WHERE n.id = v.id AND n.claim_token = %s
  AND (n.status = 'sending' OR (v.status = 'sent' AND n.status = 'pending'))
RETURNING n.id
"""


def _record(
    *, claimed: list[Notice], outcomes: dict[int, _Outcome], token: uuid.UUID, result: BatchDeliveryResult
) -> None:
    """Every outcome in one UPDATE (a sent notice re-queued by the sweep meanwhile is still recorded
    sent: pending too, as the single path), then one audit event for the batch."""
    ids = [n.pk for n in claimed]
    params = [
        ids,
        [outcomes[pk].status for pk in ids],
        [outcomes[pk].next_attempt_at for pk in ids],
        [outcomes[pk].error or None for pk in ids],
        timezone.now(),
        token,
    ]
    by_status: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_RECORD_SQL, params)
                recorded = {row[0] for row in cursor.fetchall()}
        else:
            recorded = _record_each(outcomes, at=params[4], token=token)
        for notice in claimed:
            if notice.pk in recorded:
                by_status[outcomes[notice.pk].status].append(notice.pk)
        _forget_for_erased_subjects(
            [n for n in claimed if n.pk in recorded and outcomes[n.pk].status in _FINAL_WITH_TEXT]
        )
        audit_record(
            action="notice.batch_delivered",
            target_type="notices.notice",
            target_id=f"{ids[0]}..{ids[-1]}",
            details={status: pks for status, pks in sorted(by_status.items())},
        )
    _summarise(claimed=claimed, outcomes=outcomes, recorded=recorded, result=result)


def _record_each(outcomes: dict[int, _Outcome], *, at: datetime, token: uuid.UUID) -> set[int]:
    """_RECORD_SQL one notice at a time, for databases without arrays (SQLite under `make run`)."""
    recorded = set()
    for pk, outcome in outcomes.items():
        sent = outcome.status == NoticeStatus.SENT
        guard = Q(status=NoticeStatus.SENDING) | (Q(status=NoticeStatus.PENDING) if sent else Q(pk__in=[]))
        fields: dict = {"status": outcome.status}
        if sent:
            fields.update(sent_at=at, next_attempt_at=None)
        else:
            fields["last_error"] = outcome.error or None
        if outcome.status == NoticeStatus.FAILED:
            fields["failed_at"] = at
        elif outcome.status == NoticeStatus.CANCELLED:
            fields["cancelled_at"] = at
        elif outcome.status == NoticeStatus.PENDING:
            fields.update(next_attempt_at=outcome.next_attempt_at, dispatched_at=at)
        if Notice.objects.filter(guard, pk=pk, claim_token=token).update(**fields):
            recorded.add(pk)
    return recorded


_FINAL_WITH_TEXT = (NoticeStatus.SENT, NoticeStatus.FAILED)


def _forget_for_erased_subjects(notices: list[Notice]) -> None:
    """The single path's forget_if_subject_erased, for the batch: one query finds the (rare) notices
    whose subject was erased meanwhile (an erasure confirmation, sent after the erasure)."""
    subject_ids = {n.subject_id for n in notices if n.subject_id is not None}
    if not subject_ids:
        return
    erased = set(
        DataSubject.objects.filter(pk__in=subject_ids, erased_at__isnull=False).values_list("pk", flat=True)
    )
    for notice in notices:
        if notice.subject_id in erased:
            forget_if_subject_erased(notice)


def _summarise(
    *, claimed: list[Notice], outcomes: dict[int, _Outcome], recorded: set[int], result: BatchDeliveryResult
) -> None:
    for notice in claimed:
        outcome = outcomes[notice.pk]
        if outcome.status == NoticeStatus.SENT:
            result.sent.append(notice.pk)
            if notice.pk not in recorded:
                logger.warning("Notice %s was accepted after its claim was taken over; it may be "
                               "delivered twice.", notice.pk)  # fmt: skip
        elif notice.pk not in recorded:
            result.skipped += 1
        elif outcome.status == NoticeStatus.PENDING:
            delay = rules.retry_delay(notice.attempts).total_seconds()
            result.retry.setdefault(delay, []).append(notice.pk)
        else:
            getattr(result, str(outcome.status)).append(notice.pk)
    if result.failed or result.retry:
        logger.warning("Notice batch: %s sent, %s failed, %s to retry.", len(result.sent), len(result.failed),
                       sum(map(len, result.retry.values())))  # fmt: skip
