"""§1798.84(d) corrections: open a cure, send the corrected notices, close or lapse it on its 90-day clock."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label

from .. import rules, selectors
from ..models import CorrectionRecipient, DisclosureNoticeRequest, NoticeCorrection
from ..notice import NoticeContent
from .common import FUTURE_TOLERANCE, validate_year
from .notices_1798_83 import notice_deliver


def _statement_key(content: NoticeContent) -> tuple:
    return (
        content.categories,
        tuple(
            (
                r.third_party_id,
                r.name,
                r.postal_address,
                r.nature_of_business,
                r.product_examples,
                r.categories,
            )
            for r in content.recipients
        ),
        content.exempt_affiliate_count,
    )


@transaction.atomic
def correction_open(
    *,
    year: int,
    reason: str,
    discovered_at: datetime | None = None,
    third_party_id: int | None = None,
    all_requesters: bool = False,
    actor: Actor = None,
) -> NoticeCorrection:
    """Open a §1798.84(d) cure for `year` and list every affected customer.

    Affected: each customer whose last notice for the year differs from what the (corrected) log and
    recipient details say now; with `third_party_id`, only where that recipient is or should have
    been listed; with `all_requesters`, every customer who got a notice for the year (within that
    scope). The 90-day clock runs from `discovered_at` (when the business knew or should have known).
    """
    validate_year(year)
    now = timezone.now()
    discovered_at = discovered_at or now
    if discovered_at > now + FUTURE_TOLERANCE:
        raise ValidationError("The discovery date can't be in the future.", code="future")
    if not reason.strip():
        raise ValidationError("Say what was wrong with the notices.", code="no_reason")
    correction = NoticeCorrection(
        year=year,
        reason=reason.strip(),
        third_party_id=third_party_id,
        discovered_at=discovered_at,
        cure_deadline=rules.cure_deadline(discovered_at),
        created_at=now,
        created_by_label=actor_label(actor),
    )
    correction.full_clean()
    affected: list[CorrectionRecipient] = []
    for subject_id, last in selectors.latest_statements_for_year(year=year).items():
        stated = NoticeContent.from_statement(last.statement)
        fresh = selectors.notice_content(subject_id=subject_id, year=year)
        concerned = third_party_id is None or third_party_id in {
            r.third_party_id for r in (*stated.recipients, *fresh.recipients)
        }
        if concerned and (all_requesters or _statement_key(stated) != _statement_key(fresh)):
            affected.append(
                CorrectionRecipient(
                    correction=correction, subject_id=subject_id, original_request=last, added_at=now
                )
            )
    if not affected:
        raise ValidationError(
            "No customer's notice for %(year)s differs from the disclosure log: nothing to correct. Log the "
            "missing disclosures or fix the recipient's details first, or include every customer who got a notice.",
            code="nothing_to_correct",
            params={"year": year},
        )
    correction.affected_count = len(affected)
    correction.save()
    CorrectionRecipient.objects.bulk_create(affected, batch_size=2000)
    audit_record(
        action="disclosures.correction_opened",
        actor=actor,
        target=correction,
        details={
            "correction": str(correction.public_id),
            "year": year,
            "third_party_id": third_party_id,
            "affected": len(affected),
            "discovered_at": discovered_at.isoformat(),
            "cure_deadline": correction.cure_deadline.isoformat(),
        },
    )
    return correction


def correction_send_notices(*, correction_id: int, actor: Actor = None, batch_size: int = 100) -> int:
    """Send the corrected notice to every pending affected customer, in short resumable transactions.

    Each customer's notice goes through the outbox once (idempotent per correction and customer).
    Closes the correction as cured (or cured late) when nobody is left pending.
    """
    sent = 0
    while True:
        with transaction.atomic():
            correction = NoticeCorrection.objects.select_for_update().get(pk=correction_id)
            if correction.status in (NoticeCorrection.Status.CURED, NoticeCorrection.Status.CURED_LATE):
                return sent
            pending = list(
                CorrectionRecipient.objects.select_for_update()
                .filter(correction=correction, status=CorrectionRecipient.Status.PENDING)
                .select_related("subject")
                .order_by("id")[:batch_size]
            )
            if not pending:
                break
            now = timezone.now()
            for recipient in pending:
                if recipient.subject.erased_at is not None:
                    recipient.status = CorrectionRecipient.Status.SKIPPED
                else:
                    request, _notice = notice_deliver(
                        subject_id=recipient.subject_id,
                        year=correction.year,
                        case_reference=f"correction:{correction.public_id}",
                        kind=DisclosureNoticeRequest.Kind.CORRECTION,
                        correction=correction,
                        actor=actor,
                    )
                    recipient.status = CorrectionRecipient.Status.SENT
                    recipient.corrected_request = request
                recipient.sent_at = now
            CorrectionRecipient.objects.bulk_update(pending, ["status", "sent_at", "corrected_request"])
            NoticeCorrection.objects.filter(pk=correction.pk).update(
                sent_count=F("sent_count") + len(pending)
            )
            sent += len(pending)
    _correction_close(correction_id=correction_id, actor=actor)
    return sent


@transaction.atomic
def correction_send_start(*, correction_id: int, actor: Actor = None) -> None:
    """Queue the sending of a correction's notices (admin action); the task does the work."""
    from ..tasks import send_correction_notices

    correction = NoticeCorrection.objects.get(pk=correction_id)
    audit_record(
        action="disclosures.correction_send_started",
        actor=actor,
        target=correction,
        details={"pending": correction.affected_count - correction.sent_count},
    )
    transaction.on_commit(lambda: send_correction_notices.delay(correction_id))


@transaction.atomic
def _correction_close(*, correction_id: int, actor: Actor) -> None:
    correction = NoticeCorrection.objects.select_for_update().get(pk=correction_id)
    if correction.status not in (NoticeCorrection.Status.OPEN, NoticeCorrection.Status.LAPSED):
        return
    if correction.recipients.filter(status=CorrectionRecipient.Status.PENDING).exists():
        return
    now = timezone.now()
    last_sent = correction.recipients.order_by("-sent_at").values_list("sent_at", flat=True).first() or now
    in_time = last_sent <= correction.cure_deadline
    correction.status = NoticeCorrection.Status.CURED if in_time else NoticeCorrection.Status.CURED_LATE
    correction.closed_at = now
    correction.save(update_fields=["status", "closed_at"])
    audit_record(
        action="disclosures.correction_closed",
        actor=actor,
        target=correction,
        details={"status": correction.status, "sent": correction.sent_count, "in_time": in_time},
    )


def corrections_check_deadlines(*, actor: Actor = "disclosures.check_cure_deadlines") -> int:
    """Mark open corrections whose 90-day clock ran out with customers pending as lapsed (daily job)."""
    now = timezone.now()
    lapsed = 0
    for pk in NoticeCorrection.objects.filter(
        status=NoticeCorrection.Status.OPEN, cure_deadline__lt=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if NoticeCorrection.objects.filter(pk=pk, status=NoticeCorrection.Status.OPEN).update(
                status=NoticeCorrection.Status.LAPSED
            ):
                lapsed += 1
                audit_record(
                    action="disclosures.correction_lapsed",
                    actor=actor,
                    target_type="disclosures.noticecorrection",
                    target_id=pk,
                )
    return lapsed
