"""Delivering one notice: claim, send, record. Exactly once, and the window that remains.

`notice_deliver` (run by the `deliver_notice` task, which takes only the notice id):
1. claims the row with one guarded UPDATE — `status: pending -> sending`, a fresh claim token, a claim
   time — which only one worker can win; a second run of the task, a duplicate message, or a sweep
   re-queue finds nothing to claim and returns without sending;
2. hands the message to Django's email backend (EmailMultiAlternatives);
3. records `sent` in one short transaction, guarded by the claim token, with its audit event.

A failure before the backend accepted the message is retried (bounded, exponential backoff) or marked
failed with its reason. What remains is **at-least-once in one window**: if the process dies after
the mail server accepted the message but before step 3 commits (a few milliseconds, but a hard
crash, an OOM kill or a lost database connection can land there), the row stays `sending`. No
database can be atomic with a remote SMTP server, so the beat sweep (notices.services.outbox)
re-examines a `sending` row once its lease (notices.rules.sending_lease) has passed and re-queues it:
a notice that must reach the person (a deadline extension, a breach notice) is preferred sent twice
to not sent at all. The resend carries the same Message-ID header, which many mail clients and
archives use to collapse duplicates, and the row's `last_error` and the audit trail
("notice.lease_expired") say that a duplicate is possible. If the original worker was only slow and
records its success after the lease expired, its claim token still matches and the row is marked
sent before anyone re-sends it.
"""

import hashlib
import hmac
import logging
import re
import smtplib
import uuid
from dataclasses import dataclass

from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_record
from inventory.models import DataSubject

from .. import conf, gate, rules
from ..models import Notice, NoticeStatus
from . import common

logger = logging.getLogger("notices")


@dataclass(frozen=True)
class DeliveryOutcome:
    notice_id: int
    result: str  # sent | retry | failed | cancelled | skipped
    retry_in: float | None = None
    detail: str = ""


def _is_permanent(exc: BaseException) -> bool:
    """Failures that a retry can't fix: the server refused the recipient, or the message is malformed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, BadHeaderError | ValueError)


def cancel_reason(notice: Notice) -> str:
    if notice.body_text is None or not notice.to_email or "@" not in notice.to_email:
        return "erased: the notice's address or text was erased before delivery"
    if notice.is_marketing and (
        notice.subject_id is None
        or not gate.may_send_marketing(subject_id=notice.subject_id, purpose=notice.marketing_purpose)
    ):
        return "consent: no current consent for the purpose at delivery time"
    return ""


def build_message(notice: Notice, *, connection=None) -> EmailMultiAlternatives:
    headers = dict(notice.headers or {})
    headers["Message-ID"] = notice.message_id
    reply_to = conf.reply_to()
    message = EmailMultiAlternatives(
        subject=notice.email_subject or "",
        body=notice.body_text or "",
        from_email=conf.from_email(),
        to=[notice.to_email],
        headers=headers,
        reply_to=[reply_to] if reply_to else None,
        connection=connection,
    )
    if notice.body_html:
        message.attach_alternative(notice.body_html, "text/html")
    return message


def notice_deliver(*, notice_id: int, backend: str | None = None) -> DeliveryOutcome:
    """Claim, send and record one notice. Safe to call any number of times: it sends at most once
    per claim, and only a pending, due notice can be claimed (see the module docstring). `backend`
    (an email backend's dotted path) replaces EMAIL_BACKEND for this one delivery (the demo's bounce)."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        Notice.objects.filter(pk=notice_id, status=NoticeStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=NoticeStatus.SENDING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    )
    if not claimed:
        status = Notice.objects.filter(pk=notice_id).values_list("status", flat=True).first()
        return DeliveryOutcome(notice_id, "skipped", detail=f"not claimable (status: {status or 'missing'})")
    notice = Notice.objects.get(pk=notice_id)

    reason = cancel_reason(notice)
    if reason:
        with transaction.atomic():
            Notice.objects.filter(pk=notice_id, claim_token=token, status=NoticeStatus.SENDING).update(
                status=NoticeStatus.CANCELLED, cancelled_at=timezone.now(), last_error=reason
            )
            audit_record(
                action="notice.cancelled",
                target=notice,
                subject_id=notice.subject_id,
                details={"reason": reason.split(":")[0]},
            )
        logger.info("Notice %s cancelled before delivery (%s).", notice_id, reason.split(":")[0])
        return DeliveryOutcome(notice_id, "cancelled", detail=reason)

    try:
        connection = get_connection(backend, fail_silently=False, timeout=rules.smtp_timeout())
        accepted = connection.send_messages([build_message(notice, connection=connection)])
        if accepted == 0:
            raise smtplib.SMTPException("the email backend accepted no message")
    except Exception as exc:  # every failure is recorded on the row; nothing propagates to Celery
        return _record_failure(notice=notice, token=token, exc=exc)
    return _record_sent(notice=notice, token=token)


def forget_if_subject_erased(notice: Notice) -> None:
    """A notice that reaches its end after its subject was erased (the erasure confirmation is sent to
    the requester after the erasure, by design) keeps no plaintext: it gets what the erasure engine
    does to every other notice of an erased subject (personal_data.py): the address as a keyed hash
    (HMAC-SHA256 under HASH_KEY, as retention's keyed_hash), the rendered text and headers emptied."""
    if (
        notice.subject_id is None
        or not DataSubject.objects.filter(pk=notice.subject_id, erased_at__isnull=False).exists()
    ):
        return
    address = Notice.objects.filter(pk=notice.pk).values_list("to_email", flat=True).first() or ""
    if address and not re.fullmatch(r"[0-9a-f]{64}", address):
        address = hmac.new(conf.hash_key().encode(), address.encode(), hashlib.sha256).hexdigest()
    Notice.objects.filter(pk=notice.pk).update(
        to_email=address, email_subject=None, body_text=None, body_html=None, headers=None, last_error=None
    )


def _record_sent(*, notice: Notice, token: uuid.UUID) -> DeliveryOutcome:
    now = timezone.now()
    with transaction.atomic():
        # Pending too: the sweep may have re-queued a slow claim that has not been re-claimed yet.
        recorded = Notice.objects.filter(
            pk=notice.pk, claim_token=token, status__in=[NoticeStatus.SENDING, NoticeStatus.PENDING]
        ).update(status=NoticeStatus.SENT, sent_at=now, next_attempt_at=None)
        if recorded:
            audit_record(
                action="notice.sent",
                target=notice,
                subject_id=notice.subject_id,
                details={"kind": notice.kind, "attempts": notice.attempts},
            )
            forget_if_subject_erased(notice)
    if not recorded:
        logger.warning(
            "Notice %s was accepted by the mail server after its claim was taken over; "
            "it may be delivered twice.",
            notice.pk,
        )
        return DeliveryOutcome(notice.pk, "sent", detail="claim lost before recording")
    logger.info("Notice %s sent (attempt %s).", notice.pk, notice.attempts)
    return DeliveryOutcome(notice.pk, "sent")


def _record_failure(*, notice: Notice, token: uuid.UUID, exc: BaseException) -> DeliveryOutcome:
    now = timezone.now()
    reason = common.redact(f"{type(exc).__name__}: {exc}")[:1000]
    permanent = _is_permanent(exc)
    exhausted = notice.attempts >= rules.max_attempts()
    claim = Notice.objects.filter(pk=notice.pk, claim_token=token, status=NoticeStatus.SENDING)
    with transaction.atomic():
        if permanent or exhausted:
            why = "permanent failure" if permanent else f"gave up after {notice.attempts} attempts"
            updated = claim.update(status=NoticeStatus.FAILED, failed_at=now, last_error=f"{why}: {reason}")
            if updated:
                forget_if_subject_erased(notice)
                audit_record(
                    action="notice.failed",
                    target=notice,
                    subject_id=notice.subject_id,
                    details={
                        "attempts": notice.attempts,
                        "error": type(exc).__name__,
                        "permanent": permanent,
                    },
                )
            outcome = DeliveryOutcome(notice.pk, "failed", detail=why)
        else:
            delay = rules.retry_delay(notice.attempts)
            updated = claim.update(
                status=NoticeStatus.PENDING, next_attempt_at=now + delay, dispatched_at=now, last_error=reason
            )
            if updated:
                audit_record(
                    action="notice.attempt_failed",
                    target=notice,
                    subject_id=notice.subject_id,
                    details={"attempts": notice.attempts, "error": type(exc).__name__},
                )
            outcome = DeliveryOutcome(notice.pk, "retry", retry_in=delay.total_seconds())
    if not updated:
        return DeliveryOutcome(notice.pk, "skipped", detail="claim lost before recording the failure")
    logger.warning(
        "Notice %s delivery attempt %s failed (%s): %s.",
        notice.pk,
        notice.attempts,
        type(exc).__name__,
        outcome.result,
    )
    return outcome
