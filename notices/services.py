"""Writes of the notices app: the transactional outbox and its delivery, templates, breaches.

The transactional outbox
------------------------
`notice_enqueue` renders the notice and inserts its row in the *caller's* transaction, so the notice
exists if and only if the business change that caused it commits. Delivery is scheduled with
`transaction.on_commit` (robust: a broker outage never fails the caller's request; the beat sweep
re-queues anything left pending). The idempotency key is unique in the database: the same key
returns the existing notice and sends nothing new, even under concurrent callers.

Exactly once, and the window that remains
-----------------------------------------
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
database can be atomic with a remote SMTP server, so the beat sweep re-examines a `sending` row once
its lease (notices.rules.sending_lease) has passed and re-queues it: a notice that must reach the
person (a deadline extension, a breach notice) is preferred sent twice to not sent at all. The resend
carries the same Message-ID header, which many mail clients and archives use to collapse duplicates,
and the row's `last_error` and the audit trail ("notice.lease_expired") say that a duplicate is
possible. If the original worker was only slow and records its success after the lease expired, its
claim token still matches and the row is marked sent before anyone re-sends it.
"""

import hashlib
import hmac
import logging
import re
import smtplib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import actor_label
from inventory.models import DataCategory, DataSubject

from . import defaults, gate, rendering, rules
from .models import Breach, BreachStatus, Notice, NoticeKind, NoticeStatus, NoticeTemplate

logger = logging.getLogger("notices")


class MarketingNotAllowed(ValidationError):
    """A marketing message was refused: no current consent for the purpose (or no gate registered)."""


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


_EMAIL_RE = re.compile(r"[^\s<>@'\"(),;:]+@[^\s<>@'\"(),;:]+")


def _redact(text: str) -> str:
    """Failure reasons are stored and shown: strip anything that looks like an address."""
    return _EMAIL_RE.sub("<address>", text)


def _common_context(*, public_id: uuid.UUID, subject: DataSubject | None, unsubscribe_url: str) -> dict:
    base = defaults.COMMON_CONTEXT
    return {
        "organisation": getattr(settings, "NOTICES_ORGANISATION", base["organisation"]),
        "privacy_email": getattr(settings, "NOTICES_PRIVACY_EMAIL", base["privacy_email"]),
        "privacy_phone": getattr(settings, "NOTICES_PRIVACY_PHONE", base["privacy_phone"]),
        "postal_address": getattr(settings, "NOTICES_POSTAL_ADDRESS", base["postal_address"]),
        "site_url": getattr(settings, "SITE_URL", base["site_url"]),
        "recipient_name": (subject.name if subject is not None else "") or "",
        "notice_reference": str(public_id)[:8],
        "today": timezone.localdate(),
        "unsubscribe_url": unsubscribe_url,
    }


def _language_candidates(language: str) -> list[str]:
    language = (language or "en").strip()
    found = [language]
    base = language.split("-")[0].split("_")[0]
    for candidate in (base, "en"):
        if candidate not in found:
            found.append(candidate)
    return found


def active_template(*, kind: str, language: str = "en") -> NoticeTemplate:
    """The active template for the language, else its base language (fr-CA -> fr), else English."""
    candidates = _language_candidates(language)
    found = {
        t.language: t for t in NoticeTemplate.objects.filter(kind=kind, active=True, language__in=candidates)
    }
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    raise ValidationError(
        f"There is no active template for notices of kind '{kind}'. Activate one in Notices › Templates."
    )


def _dispatch(notice_ids: list[int]) -> None:
    """Queue delivery tasks (ids only). Called after commit; a failure leaves rows for the sweep."""
    from .tasks import deliver_notice

    for notice_id in notice_ids:
        try:
            deliver_notice.delay(notice_id)
        except Exception:  # broker down: the row stays pending and the beat sweep re-queues it
            logger.exception("Could not queue delivery of notice %s; the outbox sweep will retry.", notice_id)


# ---------------------------------------------------------------------------------------------------
# Enqueue
# ---------------------------------------------------------------------------------------------------
def notice_enqueue(
    *,
    kind: str,
    idempotency_key: str,
    context: dict,
    subject: DataSubject | None = None,
    to_email: str | None = None,
    marketing_purpose: str | None = None,
    language: str = "en",
    actor=None,
) -> Notice:
    """Write a notice to the outbox in the caller's transaction and deliver it after commit.

    The same `idempotency_key` returns the existing notice (nothing new is sent). `to_email` defaults
    to the subject's address. With `marketing_purpose` the notice is marketing: refused with
    MarketingNotAllowed unless the marketing gate says yes. `context` is plain data (ids, references,
    dates, links); see notices.defaults.SAMPLE_CONTEXTS for what each kind's template uses.
    """
    notice, _ = _enqueue(
        kind=kind,
        idempotency_key=idempotency_key,
        context=context,
        subject=subject,
        to_email=to_email,
        marketing_purpose=marketing_purpose,
        language=language,
        actor=actor,
    )
    return notice


def _enqueue(
    *,
    kind: str,
    idempotency_key: str,
    context: Mapping[str, Any],
    subject: DataSubject | None = None,
    to_email: str | None = None,
    marketing_purpose: str | None = None,
    language: str = "en",
    actor=None,
    breach: Breach | None = None,
) -> tuple[Notice, bool]:
    """notice_enqueue, plus the breach link; returns (notice, created)."""
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError(
            "A notice needs an idempotency key of 1 to 200 characters (e.g. case id + kind)."
        )
    existing = Notice.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.kind != kind:
            logger.warning(
                "Idempotency key of notice %s reused for kind %s (it is %s); returning the existing notice.",
                existing.pk,
                kind,
                existing.kind,
            )
        return existing, False
    if kind not in NoticeKind.values:
        raise ValidationError(f"'{kind}' is not a kind of notice.")
    purpose = (marketing_purpose or "").strip()
    if kind == NoticeKind.MARKETING and not purpose:
        raise ValidationError(
            "A marketing message needs the consent purpose it relies on (marketing_purpose)."
        )
    unsubscribe_url = ""
    if purpose:
        if subject is None:
            raise MarketingNotAllowed(
                "A marketing message needs a data subject whose consent can be checked."
            )
        if subject.erased_at is not None or not gate.may_send_marketing(
            subject_id=subject.pk, purpose=purpose
        ):
            logger.info(
                "Marketing notice refused: subject %s has no current consent for %s.", subject.pk, purpose
            )
            raise MarketingNotAllowed(
                f"Marketing message not sent: subject #{subject.pk} has no current consent for '{purpose}'."
            )
        unsubscribe_url = gate.unsubscribe_url(subject_id=subject.pk, purpose=purpose)
        if not unsubscribe_url:
            raise MarketingNotAllowed(
                "Marketing message not sent: no one-click unsubscribe link is available (CAN-SPAM §7704)."
            )

    address = (to_email if to_email is not None else (subject.email if subject is not None else "")).strip()
    if not address:
        who = f"Subject #{subject.pk}" if subject is not None else "The recipient"
        raise ValidationError(f"{who} has no email address; the notice can't be sent by email.")
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationError(
            "The recipient's email address is not valid; the notice was not queued."
        ) from exc

    template = active_template(kind=kind, language=language)
    public_id = uuid.uuid4()
    try:
        full_context = {
            **_common_context(public_id=public_id, subject=subject, unsubscribe_url=unsubscribe_url),
            **rendering.plain_data(dict(context or {})),
        }
    except rendering.NotPlainData as exc:
        raise ValidationError(f"Notice context refused: {exc}") from exc
    if unsubscribe_url:
        full_context["unsubscribe_url"] = unsubscribe_url  # never the caller's
    try:
        rendered = rendering.render(
            subject_template=template.subject_template,
            body_text_template=template.body_text_template,
            body_html_template=template.body_html_template,
            context=full_context,
            language=template.language,
        )
    except Exception as exc:  # a template the caller's context doesn't satisfy: refuse, say which part
        raise ValidationError(
            f"The '{kind}' template (version {template.version}) could not be rendered: {rendering.describe_failure(exc)}."
        ) from exc
    headers = {"X-Privacyops-Notice": str(public_id)}
    if purpose:
        headers.update(
            {
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
            }
        )
    else:
        headers["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to notices

    now = timezone.now()
    notice = Notice(
        public_id=public_id,
        idempotency_key=idempotency_key,
        kind=kind,
        language=template.language,
        template=template,
        template_version=template.version,
        subject=subject,
        breach=breach,
        marketing_purpose=purpose,
        to_email=address,
        email_subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=headers,
        status=NoticeStatus.PENDING,
        dispatched_at=now,
        requested_by=actor_label(actor),
    )
    # The database enforces uniqueness, constraints and foreign keys (the objects were just loaded).
    notice.full_clean(
        exclude=["template", "subject", "breach"], validate_unique=False, validate_constraints=False
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                notice.save(force_insert=True)
        except IntegrityError:
            # A concurrent transaction committed the same key first: that notice is the one.
            existing = Notice.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return existing, False
        audit_record(
            action="notice.enqueued",
            actor=actor,
            target=notice,
            subject_id=subject.pk if subject is not None else None,
            details={
                "kind": kind,
                "template_version": template.version,
                "marketing_purpose": purpose,
                "breach_id": breach.pk if breach is not None else None,
            },
        )
        transaction.on_commit(lambda: _dispatch([notice.pk]), robust=True)
    return notice, True


# ---------------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------------
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


def _cancel_reason(notice: Notice) -> str:
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
    reply_to = getattr(settings, "NOTICES_REPLY_TO", "")
    message = EmailMultiAlternatives(
        subject=notice.email_subject or "",
        body=notice.body_text or "",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.to_email],
        headers=headers,
        reply_to=[reply_to] if reply_to else None,
        connection=connection,
    )
    if notice.body_html:
        message.attach_alternative(notice.body_html, "text/html")
    return message


def notice_deliver(*, notice_id: int) -> DeliveryOutcome:
    """Claim, send and record one notice. Safe to call any number of times: it sends at most once
    per claim, and only a pending, due notice can be claimed (see the module docstring)."""
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

    reason = _cancel_reason(notice)
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
        connection = get_connection(fail_silently=False, timeout=rules.smtp_timeout())
        accepted = connection.send_messages([build_message(notice, connection=connection)])
        if accepted == 0:
            raise smtplib.SMTPException("the email backend accepted no message")
    except Exception as exc:  # every failure is recorded on the row; nothing propagates to Celery
        return _record_failure(notice=notice, token=token, exc=exc)
    return _record_sent(notice=notice, token=token)


def _forget_if_subject_erased(notice: Notice) -> None:
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
        address = hmac.new(settings.HASH_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()
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
            _forget_if_subject_erased(notice)
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
    reason = _redact(f"{type(exc).__name__}: {exc}")[:1000]
    permanent = _is_permanent(exc)
    exhausted = notice.attempts >= rules.max_attempts()
    claim = Notice.objects.filter(pk=notice.pk, claim_token=token, status=NoticeStatus.SENDING)
    with transaction.atomic():
        if permanent or exhausted:
            why = "permanent failure" if permanent else f"gave up after {notice.attempts} attempts"
            updated = claim.update(status=NoticeStatus.FAILED, failed_at=now, last_error=f"{why}: {reason}")
            if updated:
                _forget_if_subject_erased(notice)
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


# ---------------------------------------------------------------------------------------------------
# Operator actions and the sweep
# ---------------------------------------------------------------------------------------------------
@transaction.atomic
def notice_retry(*, notice_id: int, actor=None) -> Notice:
    """Queue a failed notice again (attempts start over), or deliver a waiting one now."""
    notice = Notice.objects.select_for_update().get(pk=notice_id)
    if notice.status not in (NoticeStatus.FAILED, NoticeStatus.PENDING):
        raise ValidationError(
            f"Only failed or pending notices can be retried; notice {notice} is {notice.get_status_display().lower()}."
        )
    if _cancel_reason(notice).startswith("erased"):
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
    transaction.on_commit(lambda: _dispatch([notice.pk]), robust=True)
    notice.refresh_from_db()
    return notice


@transaction.atomic
def notice_cancel(*, notice_id: int, reason: str, actor=None) -> Notice:
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
        transaction.on_commit(lambda: _dispatch(to_dispatch), robust=True)
    return SweepResult(
        requeued=len(orphans),
        lease_expired=len(stale),
        failed=len(exhausted),
        more=len(stale) + len(orphans) >= limit,
    )


# ---------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------
_WORDING_FIELDS = ("subject_template", "body_text_template", "body_html_template")


def notice_template_validate(*, template: NoticeTemplate) -> rendering.Rendered:
    """Render the template against its sample context; ValidationError (by field) if it can't."""
    return rendering.validate_template(
        subject_template=template.subject_template,
        body_text_template=template.body_text_template or "",
        body_html_template=template.body_html_template or "",
        sample_context=defaults.sample_context(template.kind, template.sample_context),
        language=template.language,
    )


def notice_template_check(*, template: NoticeTemplate) -> rendering.Rendered:
    """Everything that must hold before a template is saved (used by the service and the admin form):
    valid fields, renders from its sample context, and English keeps an active version."""
    template.language = (template.language or "en").strip()
    template.full_clean(validate_constraints=False)
    rendered = notice_template_validate(template=template)
    if template.pk and not template.active and template.language == "en":
        was_active = NoticeTemplate.objects.filter(pk=template.pk, active=True).exists()
        others = NoticeTemplate.objects.filter(kind=template.kind, language="en", active=True).exclude(
            pk=template.pk
        )
        if was_active and not others.exists():
            raise ValidationError(
                {
                    "active": "This is the only active English template of its kind; activate another version first."
                }
            )
    return rendered


@transaction.atomic
def notice_template_save(*, template: NoticeTemplate, actor=None) -> NoticeTemplate:
    """Create or change a template. Refused when it fails to render; a change of wording gets a new
    version number; activating it deactivates the other version of its kind and language."""
    notice_template_check(template=template)
    previous = (
        NoticeTemplate.objects.select_for_update().filter(pk=template.pk).first() if template.pk else None
    )
    family = NoticeTemplate.objects.filter(kind=template.kind, language=template.language)
    wording_changed = previous is None or any(
        getattr(previous, f) != getattr(template, f) for f in (*_WORDING_FIELDS, "kind", "language")
    )
    if wording_changed:
        template.version = (family.aggregate(v=Max("version"))["v"] or 0) + 1
    if template.active:
        family.filter(active=True).exclude(pk=template.pk).update(active=False)
    template.updated_by = actor_label(actor)
    template.save()
    audit_record(
        action="notice_template.created" if previous is None else "notice_template.changed",
        actor=actor,
        target=template,
        details={"kind": template.kind, "language": template.language, "version": template.version,
                 "active": template.active, "wording_changed": wording_changed},
    )  # fmt: skip
    return template


def notice_template_create(
    *,
    kind: str,
    subject_template: str,
    body_text_template: str,
    body_html_template: str = "",
    language: str = "en",
    sample_context: dict | None = None,
    description: str = "",
    active: bool = True,
    actor=None,
) -> NoticeTemplate:
    return notice_template_save(
        template=NoticeTemplate(
            kind=kind,
            language=language,
            subject_template=subject_template,
            body_text_template=body_text_template,
            body_html_template=body_html_template,
            sample_context=sample_context or {},
            description=description,
            active=active,
        ),
        actor=actor,
    )


# ---------------------------------------------------------------------------------------------------
# Breaches
# ---------------------------------------------------------------------------------------------------
SELECTION_KEYS = {"categories", "countries", "regions", "created_from", "created_to", "subject_ids"}
# Wording and selection are what subjects are told and who is told: frozen once notifying starts.
_FROZEN_WHEN_NOTIFYING = (
    "what_happened", "information_involved", "likely_consequences", "what_we_are_doing", "what_you_can_do",
    "for_more_information", "occurred_from", "occurred_until", "discovered_at", "selection",
)  # fmt: skip
_REQUIRED_FOR_NOTICE = {
    "what_happened": "What Happened",
    "what_we_are_doing": "What We Are Doing",
    "what_you_can_do": "What You Can Do",
    "for_more_information": "For More Information",
}


_EDITABLE_BREACH_FIELDS = [
    f.name for f in Breach._meta.concrete_fields if f.editable and not f.primary_key and f.name != "status"
]


def breach_selection_clean(selection: Mapping[str, Any] | None) -> dict:
    """Normalise the stored query that selects affected subjects; refuse unknown keys and bad values."""
    selection = dict(selection or {})
    unknown = set(selection) - SELECTION_KEYS
    if unknown:
        raise ValidationError({"selection": f"Unknown selection keys: {', '.join(sorted(unknown))}."})
    clean: dict[str, Any] = {}
    codes = sorted({str(c).strip() for c in selection.get("categories") or [] if str(c).strip()})
    if codes:
        known = set(DataCategory.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            raise ValidationError(
                {"selection": f"Unknown data categories: {', '.join(sorted(set(codes) - known))}."}
            )
        clean["categories"] = codes
    for key, length in (("countries", 2), ("regions", 3)):
        values = sorted({str(v).strip().upper() for v in selection.get(key) or [] if str(v).strip()})
        if any(len(v) > length for v in values):
            raise ValidationError(
                {"selection": f"{key.title()} are ISO codes of at most {length} characters."}
            )
        if values:
            clean[key] = values
    for key in ("created_from", "created_to"):
        value = selection.get(key)
        if value:
            try:
                clean[key] = (
                    value if isinstance(value, date) else date.fromisoformat(str(value))
                ).isoformat()
            except ValueError as exc:
                raise ValidationError({"selection": f"{key} must be a date (YYYY-MM-DD)."}) from exc
    if clean.get("created_from") and clean.get("created_to") and clean["created_from"] > clean["created_to"]:
        raise ValidationError({"selection": "The creation date range ends before it starts."})
    ids = selection.get("subject_ids") or []
    try:
        clean_ids = sorted({int(i) for i in ids})
    except (TypeError, ValueError) as exc:
        raise ValidationError({"selection": "subject_ids must be subject ids (integers)."}) from exc
    if clean_ids:
        clean["subject_ids"] = clean_ids
    return clean


@transaction.atomic
def breach_save(
    *, breach: Breach, categories: Iterable[DataCategory | str] | None = None, actor=None
) -> Breach:
    """Record a new breach or change one in the register. Once subjects are being notified, the
    wording and the selection are frozen (they are what people were told, and who)."""
    created = breach.pk is None
    breach.selection = breach_selection_clean(breach.selection)
    breach.full_clean(exclude=["categories"])
    if not created:
        stored = Breach.objects.select_for_update().get(pk=breach.pk)
        if stored.status != BreachStatus.DRAFT:
            changed = [f for f in _FROZEN_WHEN_NOTIFYING if getattr(stored, f) != getattr(breach, f)]
            if changed:
                raise ValidationError(
                    "Subjects are already being notified: the notice wording and the selection can't change "
                    f"({', '.join(changed)})."
                )
        breach.status = stored.status  # status moves only through the notify services
        # Only what a person edits: progress is written concurrently by the batch task.
        breach.save(update_fields=[*_EDITABLE_BREACH_FIELDS, "updated_at"])
    else:
        if actor is not None and hasattr(actor, "pk"):
            breach.created_by = actor
        breach.save()
    if categories is not None:
        wanted = [
            c if isinstance(c, DataCategory) else DataCategory.objects.get(code=c)
            for c in categories  # codes or instances
        ]
        frozen = not created and breach.status != BreachStatus.DRAFT
        if frozen and {c.pk for c in wanted} != set(breach.categories.values_list("pk", flat=True)):
            raise ValidationError("Subjects are already being notified: the categories can't change.")
        breach.categories.set(wanted)
    audit_record(
        action="breach.recorded" if created else "breach.changed",
        actor=actor,
        target=breach,
        details={"status": breach.status, "authority_notified": breach.authority_notified_at is not None},
    )
    return breach


def breach_record(
    *,
    title: str,
    what_happened: str,
    discovered_at: datetime,
    aware_at: datetime | None = None,
    categories: Iterable[DataCategory | str] = (),
    selection: Mapping[str, Any] | None = None,
    actor=None,
    **details: Any,
) -> Breach:
    """Record a breach (GDPR Art. 33(5)). `details`: any other Breach field (wording, dates, ...)."""
    allowed = {f.name for f in Breach._meta.concrete_fields if f.editable} - {"id", "status", "selection"}
    unknown = set(details) - allowed
    if unknown:
        raise TypeError(f"Unknown breach fields: {', '.join(sorted(unknown))}")
    breach = Breach(
        title=title,
        what_happened=what_happened,
        discovered_at=discovered_at,
        aware_at=aware_at or discovered_at,
        selection=dict(selection or {}),
        **details,
    )
    return breach_save(breach=breach, categories=list(categories), actor=actor)


@transaction.atomic
def breach_notify_start(*, breach_id: int, actor=None) -> Breach:
    """Freeze the affected subjects (up to the highest id matching now), count California residents,
    and start notifying them in batches through the outbox."""
    from .selectors import breach_affected_counts, breach_affected_subjects

    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.status != BreachStatus.DRAFT:
        raise ValidationError(f"Notification of '{breach}' has already started.")
    missing = [label for field, label in _REQUIRED_FOR_NOTICE.items() if not getattr(breach, field).strip()]
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
    transaction.on_commit(lambda: _dispatch_breach(breach.pk), robust=True)
    return breach


def _dispatch_breach(breach_id: int) -> None:
    from .tasks import notify_breach_batch

    try:
        notify_breach_batch.delay(breach_id)
    except Exception:
        logger.exception(
            "Could not queue the notification of breach %s; the sweep will resume it.", breach_id
        )


@dataclass(frozen=True)
class BreachBatchResult:
    breach_id: int
    processed: int
    enqueued: int
    skipped: int
    done: bool


def breach_notify_batch(*, breach_id: int, batch_size: int = 500) -> BreachBatchResult:
    """Notify the next batch of affected subjects (by id, from the stored cursor) in one transaction.

    Resumable and idempotent: a crashed batch rolls back whole, and each subject's notice has the key
    `breach:<breach id>:subject:<subject id>`, so a subject is never notified twice.
    """
    from .selectors import breach_affected_subjects, breach_notice_context

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
        context = breach_notice_context(breach)
        enqueued = skipped = 0
        for subject in subjects:
            if not subject.email:
                skipped += 1
                continue
            try:
                _enqueue(
                    kind=NoticeKind.BREACH_NOTIFICATION,
                    idempotency_key=f"breach:{breach.pk}:subject:{subject.pk}",
                    context=context,
                    subject=subject,
                    breach=breach,
                    actor="notices.notify_breach_batch",
                )
                enqueued += 1
            except ValidationError:  # an invalid address: counted, left for a postal notice
                skipped += 1
        now = timezone.now()
        done = len(subjects) < batch_size
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
    return BreachBatchResult(breach_id, len(subjects), enqueued, skipped, done)


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
        _dispatch_breach(breach_id)
    return stalled


@transaction.atomic
def breach_record_authority_notification(
    *, breach_id: int, notified_at: datetime, reference: str = "", delay_reason: str = "", actor=None
) -> Breach:
    """GDPR Art. 33: when the supervisory authority was notified; after 72 hours, with the reasons."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    breach.authority_notified_at = notified_at
    breach.authority_reference = reference or breach.authority_reference
    breach.delay_reason = delay_reason or breach.delay_reason
    breach.full_clean(exclude=["categories"])
    breach.save(update_fields=["authority_notified_at", "authority_reference", "delay_reason", "updated_at"])
    late = notified_at > breach.eu_authority_due
    audit_record(action="breach.authority_notified", actor=actor, target=breach, details={"late": late})
    return breach


@transaction.atomic
def breach_record_ag_sample(*, breach_id: int, submitted_at: datetime, actor=None) -> Breach:
    """Cal. Civ. Code §1798.82(f): the sample notice was submitted to the Attorney General."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.notify_started_at is None:
        raise ValidationError("Submit the Attorney General sample after notifying the affected residents.")
    breach.ag_sample_submitted_at = submitted_at
    breach.save(update_fields=["ag_sample_submitted_at", "updated_at"])
    audit_record(action="breach.ag_sample_submitted", actor=actor, target=breach)
    return breach


@transaction.atomic
def breach_close(*, breach_id: int, actor=None) -> Breach:
    """Close a breach in the register once every clock is met or documented as not applicable."""
    from .selectors import breach_clocks

    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.status == BreachStatus.CLOSED:
        return breach
    if breach.status == BreachStatus.NOTIFYING:
        raise ValidationError(f"'{breach}' is still notifying subjects; close it when that has finished.")
    open_clocks = [c.label for c in breach_clocks(breach) if c.done_at is None and not c.exempt_reason]
    if open_clocks:
        raise ValidationError(
            f"'{breach}' can't be closed: {', '.join(open_clocks)} not done. Record the notification, or why it "
            "is not required."
        )
    breach.status = BreachStatus.CLOSED
    breach.save(update_fields=["status", "updated_at"])
    audit_record(action="breach.closed", actor=actor, target=breach)
    return breach


def breach_clock_reminders() -> int:
    """Remind the privacy office (operations_report) of breach clocks about to run out or overdue.

    One reminder per breach, clock and day (the idempotency key carries the date).
    """
    from .selectors import breach_open_clocks

    office = getattr(settings, "PRIVACY_OFFICE_EMAIL", "")
    if not office:
        return 0
    sent = 0
    today = timezone.localdate().isoformat()
    for item in breach_open_clocks():
        if not item.needs_reminder:
            continue
        with transaction.atomic():
            _, created = _enqueue(
                kind=NoticeKind.OPERATIONS_REPORT,
                idempotency_key=f"breach:{item.breach_id}:{item.code}:reminder:{today}",
                context={
                    "title": f"Breach clock: {item.label} {'overdue' if item.overdue else 'due soon'}",
                    "summary": f"Breach {item.reference}: {item.action} by {item.due:%Y-%m-%d %H:%M} UTC "
                    f"({item.source}).",
                    "items": [],
                    "link": item.admin_url,
                },
                to_email=office,
                actor="notices.breach_clock_reminders",
            )
            sent += created
    return sent
