"""Writes of the disclosures app: the disclosure log, §1798.83 notices, corrections, exports, settings.

Every function takes keyword-only arguments, runs in a transaction and records an audit event with
ids and codes only. Personal data never goes into messages, audit details or task arguments.
"""

import hashlib
import json
import logging
import os
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject, ThirdParty

from . import exports, integrations, rules, selectors
from .models import (
    CategoryMapping,
    CorrectionRecipient,
    DisclosureBatch,
    DisclosureEvent,
    DisclosureExport,
    DisclosureNoticeRequest,
    DisclosureSettings,
    NoticeCorrection,
    Purpose,
)
from .notice import NoticeContent, render_html_fragment, render_text
from .statutory import codes_of, mask_of

logger = logging.getLogger(__name__)

FIRST_NOTICE_YEAR = 2004  # §1798.83 operative 2005-01-01, covering disclosures of the preceding year
EXPORT_RETENTION = timedelta(days=7)  # export files hold customer references: delete them soon
NOTICE_LINK_MAX_AGE = timedelta(days=90)
NOTICE_LINK_SALT = "disclosures.notice"
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew of sending systems


# --- categories ------------------------------------------------------------------------------------


def categories_resolve(
    *, statutory: Iterable[str] = (), data: Mapping[str, Iterable[str]] | None = None
) -> tuple[int, dict[str, list[str]]]:
    """Statutory codes and/or {data category: [fields]} → the statutory bitmask (via the mapping).

    A data category given without fields counts as everything its fields map to. Unknown categories
    or fields are refused: a disclosure whose content we can't classify would make notices wrong.
    """
    statutory = list(statutory)
    data = {code: sorted(set(fields)) for code, fields in (data or {}).items()}
    if not statutory and not data:
        raise ValidationError(
            "Say what was disclosed: statutory categories and/or data categories.", code="no_categories"
        )
    mask = mask_of(statutory)
    if data:
        index = selectors.mapping_index()
        errors = []
        for code, fields in data.items():
            known = index.get(code)
            if known is None:
                errors.append(
                    ValidationError(
                        "Unknown data category '%(code)s' (or it has no §1798.83 mapping yet).",
                        code="unknown_data_category",
                        params={"code": code},
                    )
                )
                continue
            for name in fields or known.keys():
                if name not in known:
                    errors.append(
                        ValidationError(
                            "Unknown field '%(field)s' of data category '%(code)s'; known: %(known)s.",
                            code="unknown_field",
                            params={"field": name, "code": code, "known": ", ".join(sorted(known))},
                        )
                    )
                    continue
                mask |= known[name]
        if errors:
            raise ValidationError(errors)
    return mask, data


# --- the disclosure log ----------------------------------------------------------------------------


class OptedOutSubjects(ValidationError):
    """Direct-marketing disclosure refused: some subjects opted out (§1798.83(c)(2) route)."""

    def __init__(self, subject_ids: Iterable[int]):
        self.subject_ids = sorted(subject_ids)
        super().__init__(
            "%(count)s subject(s) in this batch opted out of sharing with third parties for their direct "
            "marketing (§1798.83(c)(2)): remove them from the list, or ask to exclude them.",
            code="opted_out",
            params={"count": len(self.subject_ids)},
        )


class BatchConflict(ValidationError):
    """The external id was already used for a different batch."""


@dataclass
class BatchResult:
    batch: DisclosureBatch
    created: bool
    excluded_subject_ids: list[int] = field(default_factory=list)


def payload_fingerprint(payload: Mapping) -> str:
    """Stable hash of a batch request, to tell a retry from a different batch reusing an external id."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _copy_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _insert_events(*, batch: DisclosureBatch, subject_ids: Sequence[int]) -> None:
    """All members in ONE bulk operation: COPY on PostgreSQL, bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        suffix = "\t".join(
            [
                str(batch.third_party_id),
                batch.purpose,
                str(batch.categories),
                batch.at.isoformat(),
                _copy_escape(batch.agreement_reference),
                str(batch.pk),
            ]
        )
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY disclosures_disclosureevent "
                "(subject_id, third_party_id, purpose, categories, at, agreement_reference, batch_id) FROM STDIN"
            ) as copy,
        ):
            step = 20_000
            for i in range(0, len(subject_ids), step):
                copy.write("".join(f"{sid}\t{suffix}\n" for sid in subject_ids[i : i + step]))
        return
    DisclosureEvent.objects.bulk_create(
        [
            DisclosureEvent(
                subject_id=sid,
                third_party_id=batch.third_party_id,
                purpose=batch.purpose,
                categories=batch.categories,
                at=batch.at,
                agreement_reference=batch.agreement_reference,
                batch_id=batch.pk,
            )
            for sid in subject_ids
        ]
    )


@transaction.atomic
def disclosure_batch_record(
    *,
    third_party_id: int,
    purpose: str,
    subject_ids: Iterable[int],
    statutory_categories: Iterable[str] = (),
    data_categories: Mapping[str, Iterable[str]] | None = None,
    disclosed_at: datetime | None = None,
    agreement_reference: str = "",
    external_id: str | None = None,
    payload_sha256: str = "",
    source: str = "",
    exclude_opted_out: bool = False,
    actor: Actor = None,
) -> BatchResult:
    """Log one share of data with one recipient: a header and one event per subject, in one bulk insert.

    Idempotent by `external_id`: the same id with the same payload returns the batch already logged;
    with a different payload it is refused. With the §1798.83(c)(2) opt-out route on, a
    direct-marketing batch containing subjects without `share_marketing_partners` consent is refused,
    or, with `exclude_opted_out`, logged without them (they must then not be sent).
    """
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = DisclosureBatch.objects.filter(external_id=external_id).first()
        if existing is not None:
            return _existing_batch(existing, payload_sha256)
    if purpose not in Purpose.values:
        raise ValidationError(
            "Unknown purpose '%(purpose)s'.", code="unknown_purpose", params={"purpose": purpose}
        )
    third_party = ThirdParty.objects.filter(pk=third_party_id).first()
    if third_party is None:
        raise ValidationError("Unknown recipient (third party).", code="unknown_third_party")
    if not third_party.active:
        raise ValidationError(
            "Recipient %(name)s is marked inactive: reactivate it before logging disclosures to it.",
            code="inactive_third_party",
            params={"name": third_party.legal_name},
        )
    mask, data = categories_resolve(statutory=statutory_categories, data=data_categories)
    now = timezone.now()
    at = disclosed_at or now
    if at > now + FUTURE_TOLERANCE:
        raise ValidationError("A disclosure can't be logged in the future.", code="future")
    ids = sorted({int(i) for i in subject_ids})
    if not ids:
        raise ValidationError("A batch needs at least one subject.", code="empty_batch")
    check = selectors.subjects_check(ids)
    if check.missing or check.erased:
        raise ValidationError(
            "Batch refused: %(missing)s unknown and %(erased)s erased subject(s) (first ids: %(sample)s).",
            code="bad_subjects",
            params={
                "missing": len(check.missing),
                "erased": len(check.erased),
                "sample": ", ".join(map(str, (check.missing + check.erased)[:10])),
            },
        )
    excluded: list[int] = []
    if purpose == Purpose.DIRECT_MARKETING and selectors.disclosure_settings().opt_out_route_enabled:
        opted_out = integrations.subjects_opted_out_of_partner_sharing(ids) & set(ids)
        if opted_out:
            if not exclude_opted_out:
                raise OptedOutSubjects(opted_out)
            excluded = sorted(opted_out)
            ids = [i for i in ids if i not in opted_out]
            if not ids:
                raise OptedOutSubjects(opted_out)
    batch = DisclosureBatch(
        external_id=external_id,
        payload_sha256=payload_sha256,
        third_party=third_party,
        purpose=purpose,
        categories=mask,
        data_categories=data,
        at=at,
        agreement_reference=agreement_reference.strip(),
        member_count=len(ids),
        excluded_count=len(excluded),
        source=source,
        recorded_at=now,
        recorded_by_label=actor_label(actor),
    )
    batch.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            batch.save()
    except IntegrityError:
        # A concurrent request logged the same external id first: answer as its retry would.
        existing = DisclosureBatch.objects.filter(external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return _existing_batch(existing, payload_sha256)
    _insert_events(batch=batch, subject_ids=ids)
    audit_record(
        action="disclosures.batch_recorded",
        actor=actor,
        target=batch,
        details={
            "batch": str(batch.public_id),
            "external_id": external_id or "",
            "third_party_id": third_party.pk,
            "purpose": purpose,
            "categories": codes_of(mask),
            "members": len(ids),
            "excluded_opted_out": len(excluded),
            "source": source,
        },
    )
    return BatchResult(batch=batch, created=True, excluded_subject_ids=excluded)


def _existing_batch(existing: DisclosureBatch, payload_sha256: str) -> BatchResult:
    if payload_sha256 and existing.payload_sha256 and existing.payload_sha256 != payload_sha256:
        raise BatchConflict(
            "External id %(external_id)s was already used for a different batch.",
            code="external_id_conflict",
            params={"external_id": existing.external_id},
        )
    return BatchResult(batch=existing, created=False)


def disclosure_record(
    *,
    subject_id: int,
    third_party_id: int,
    purpose: str,
    statutory_categories: Iterable[str] = (),
    data_categories: Mapping[str, Iterable[str]] | None = None,
    disclosed_at: datetime | None = None,
    agreement_reference: str = "",
    source: str = "",
    actor: Actor = None,
) -> DisclosureEvent:
    """Log a single disclosure (a batch of one)."""
    result = disclosure_batch_record(
        third_party_id=third_party_id,
        purpose=purpose,
        subject_ids=[subject_id],
        statutory_categories=statutory_categories,
        data_categories=data_categories,
        disclosed_at=disclosed_at,
        agreement_reference=agreement_reference,
        source=source,
        actor=actor,
    )
    return DisclosureEvent.objects.get(batch=result.batch)


# --- settings and mapping --------------------------------------------------------------------------

SETTINGS_FIELDS = {
    "employee_count",
    "opt_out_route_enabled",
    "business_name",
    "business_postal_address",
    "designated_postal_address",
    "designated_email",
    "designated_phone",
    "show_same_brand_affiliate_count",
}


@transaction.atomic
def disclosure_settings_update(*, actor: Actor = None, **changes: Any) -> DisclosureSettings:
    """Change the §1798.83 settings; the audit event records which fields changed and the gate's state."""
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise ValidationError("Unknown settings: %(names)s.", params={"names": ", ".join(sorted(unknown))})
    selectors.disclosure_settings()
    obj = DisclosureSettings.objects.select_for_update().get(pk=1)
    changed = sorted(name for name, value in changes.items() if getattr(obj, name) != value)
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.updated_by_label = actor_label(actor)
    obj.full_clean()
    obj.save()
    audit_record(
        action="disclosures.settings_changed",
        actor=actor,
        target=obj,
        details={
            "changed": changed,
            "employee_count": obj.employee_count,
            "required": rules.feature_required(obj.employee_count),
            "opt_out_route_enabled": obj.opt_out_route_enabled,
        },
    )
    return obj


@transaction.atomic
def category_mapping_save(*, mapping: CategoryMapping, actor: Actor = None) -> CategoryMapping:
    """Create or change one mapping row (admin). Logged disclosures keep the categories they had."""
    created = mapping.pk is None
    mapping.full_clean()
    mapping.save()
    audit_record(
        action="disclosures.mapping_created" if created else "disclosures.mapping_changed",
        actor=actor,
        target=mapping,
        details={
            "data_category": mapping.data_category.code,
            "field": mapping.field,
            "statutory_category": mapping.statutory_category,
        },
    )
    return mapping


@transaction.atomic
def category_mapping_delete(*, mapping: CategoryMapping, actor: Actor = None) -> None:
    details = {
        "data_category": mapping.data_category.code,
        "field": mapping.field,
        "statutory_category": mapping.statutory_category,
    }
    pk = mapping.pk
    mapping.delete()
    audit_record(
        action="disclosures.mapping_deleted",
        actor=actor,
        target_type="disclosures.categorymapping",
        target_id=pk,
        details=details,
    )


# --- §1798.83 notices ------------------------------------------------------------------------------


def notice_link_token(request_public_id: uuid.UUID | str) -> str:
    return signing.dumps(str(request_public_id), salt=NOTICE_LINK_SALT, compress=True)


def notice_link_open(token: str) -> str:
    """The request public id behind a notice link; raises signing.BadSignature when forged or expired."""
    return signing.loads(token, salt=NOTICE_LINK_SALT, max_age=NOTICE_LINK_MAX_AGE)


def notice_links(request_public_id: uuid.UUID | str) -> dict[str, str]:
    token = notice_link_token(request_public_id)
    base = settings.SITE_URL.rstrip("/")
    return {
        fmt: base + reverse("disclosures:notice", kwargs={"token": token, "fmt": fmt})
        for fmt in ("html", "pdf", "txt")
    }


def notice_context(content: NoticeContent, *, links: Mapping[str, str]) -> dict:
    """What the outbox's `notice_1798_83_delivered` template gets (notices.defaults): the notice in the
    standard layout (`notice_text`, which the template prints as is), its parts, and signed links.

    Holds no personal data of the customer (reference ids, categories, businesses' names/addresses).
    """
    from .statutory import BY_CODE

    return {
        "year": content.year,
        "reference": content.reference,
        "customer_reference": content.customer_reference,
        "has_disclosures": content.has_disclosures,
        "required": content.business.required,
        "categories": [label[:1].upper() + label[1:] for label in content.category_labels],
        "recipients": [
            {
                "name": r.name,
                "address": r.postal_address,
                "nature_of_business": r.nature_of_business,
                "product_examples": r.product_examples,
                "categories": [BY_CODE[c].label for c in r.categories],
            }
            for r in content.recipients
        ],
        "exempt_affiliate_count": content.exempt_affiliate_count,
        "notice_text": render_text(content),
        "notice_html": render_html_fragment(content),
        "notice_url": links["html"],
        "pdf_url": links["pdf"],
    }


def _validate_year(year: int) -> None:
    current = rules.year_of(timezone.now())
    if not FIRST_NOTICE_YEAR <= int(year) <= current:
        raise ValidationError(
            "A §1798.83 notice covers a past or the current calendar year (%(first)s-%(current)s), not %(year)s.",
            code="bad_year",
            params={"first": FIRST_NOTICE_YEAR, "current": current, "year": year},
        )


def _notice_deliver(
    *,
    subject_id: int,
    year: int,
    case_reference: str,
    kind: str,
    correction: NoticeCorrection | None,
    actor: Actor,
) -> tuple[DisclosureNoticeRequest, Any]:
    _validate_year(year)
    case_reference = (case_reference or "").strip()
    # Lock the customer: two deliveries for one customer are serialised, so the repeat flag is right.
    # NO KEY UPDATE: doesn't wait for batches being logged (their foreign keys hold KEY SHARE locks).
    subject = DataSubject.objects.select_for_update(no_key=True).filter(pk=subject_id).first()
    if subject is None:
        raise ValidationError("Unknown customer.", code="unknown_subject")
    if subject.erased_at is not None:
        raise ValidationError(
            "This customer was erased: there is no one to send the notice to.", code="erased"
        )
    if case_reference:
        existing = DisclosureNoticeRequest.objects.filter(
            subject_id=subject_id, year=year, case_reference=case_reference
        ).first()
        if existing is not None:
            # Retry of the same case: the outbox returns the notice already queued, nothing new is sent.
            notice = integrations.enqueue_notice(
                subject=subject,
                idempotency_key=_idempotency_key(existing),
                context=notice_context(
                    NoticeContent.from_statement(existing.statement), links=notice_links(existing.public_id)
                ),
                actor=actor,
            )
            return existing, notice
    repeat = kind == DisclosureNoticeRequest.Kind.REQUEST and rules.is_repeat_request(
        subject_id=subject_id, year=year, exclude_reference=case_reference
    )
    public_id = uuid.uuid4()
    content = selectors.notice_content(subject_id=subject_id, year=year, reference=str(public_id))
    request = DisclosureNoticeRequest(
        public_id=public_id,
        subject=subject,
        year=year,
        kind=kind,
        case_reference=case_reference,
        delivered_at=timezone.now(),
        statement=content.to_statement(),
        repeat_in_year=repeat,
        required=content.business.required,
        correction=correction,
    )
    notice = integrations.enqueue_notice(
        subject=subject,
        idempotency_key=_idempotency_key(request),
        context=notice_context(content, links=notice_links(public_id)),
        actor=actor,
    )
    request.notice_id = getattr(notice, "pk", None)
    request.full_clean(exclude=["subject", "correction"])
    request.save()
    audit_record(
        action="disclosures.notice_corrected" if correction else "disclosures.notice_delivered",
        actor=actor,
        target=request,
        subject_id=subject_id,
        details={
            "year": year,
            "case_reference": case_reference,
            "notice_id": request.notice_id,
            "categories": list(content.categories),
            "recipient_ids": [r.third_party_id for r in content.recipients],
            "exempt_affiliates": content.exempt_affiliate_count,
            "repeat_in_year": repeat,
            "required": request.required,
            "correction": str(correction.public_id) if correction else "",
        },
    )
    return request, notice


def _idempotency_key(request: DisclosureNoticeRequest) -> str:
    if request.case_reference:
        return f"disclosures:1798.83:{request.subject_id}:{request.year}:{request.case_reference}"
    return f"disclosures:1798.83:{request.public_id}"


@transaction.atomic
def notice_1798_83_deliver(*, subject_id: int, year: int, case_reference: str = "", actor: Actor = None):
    """Generate the customer's §1798.83 notice for calendar year `year` and send it through the outbox.

    Records a DisclosureNoticeRequest (what was said, flagged when a notice for that year was already
    delivered on request: §1798.83(c)(1)). Idempotent per (customer, year, case_reference): a retry
    of the same case returns the notice already queued. Returns the notices.Notice.
    """
    _request, notice = _notice_deliver(
        subject_id=subject_id,
        year=year,
        case_reference=case_reference,
        kind=DisclosureNoticeRequest.Kind.REQUEST,
        correction=None,
        actor=actor,
    )
    return notice


def notice_viewed(*, request: DisclosureNoticeRequest, fmt: str, actor: Actor = None) -> None:
    """Audit that a notice was opened (customer link or admin)."""
    audit_record(
        action="disclosures.notice_viewed",
        actor=actor,
        target=request,
        subject_id=request.subject_id,
        details={"format": fmt, "year": request.year},
    )


def notice_previewed(*, subject_id: int, year: int, actor: Actor = None) -> NoticeContent:
    """An officer looks at what a customer's notice would say now, without sending it (audited)."""
    _validate_year(year)
    content = selectors.notice_content(subject_id=subject_id, year=year)
    audit_record(
        action="disclosures.notice_previewed",
        actor=actor,
        target_type="inventory.datasubject",
        target_id=subject_id,
        subject_id=subject_id,
        details={"year": year},
    )
    return content


# --- §1798.84(d) corrections ------------------------------------------------------------------------


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
    _validate_year(year)
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
                    request, _notice = _notice_deliver(
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
    from .tasks import send_correction_notices

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


# --- exports ---------------------------------------------------------------------------------------


def exports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


_EXTENSIONS = {
    DisclosureExport.Format.CSV: ".csv",
    DisclosureExport.Format.ZIP: ".zip",
    DisclosureExport.Format.SUMMARY: ".csv",
}


@transaction.atomic
def export_request(
    *, year: int, fmt: str = DisclosureExport.Format.CSV, notice_format: str = "pdf", actor: Actor = None
) -> DisclosureExport:
    """Queue an analyst export; a Celery task builds the file after commit."""
    from .tasks import build_export

    _validate_year(year)
    export = DisclosureExport(
        year=year,
        format=fmt,
        notice_format=notice_format,
        task_id=str(uuid.uuid4()),
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_by_label=actor_label(actor),
        requested_at=timezone.now(),
    )
    export.full_clean()
    export.save()
    audit_record(
        action="disclosures.export_requested",
        actor=actor,
        target=export,
        details={"year": year, "format": fmt, "notice_format": notice_format},
    )
    transaction.on_commit(lambda: build_export.apply_async(args=[export.pk], task_id=export.task_id))
    return export


def write_export(
    *,
    year: int,
    fmt: str,
    out,
    notice_format: str = "pdf",
    progress: exports.Progress | None = None,
    window: int = exports.EXPORT_WINDOW,
) -> tuple[exports.ExportStats, exports.Summary | None]:
    """Write one export format to a binary file object (used by the task and the command)."""
    cards = selectors.third_party_cards()
    business = selectors.business()
    if fmt == DisclosureExport.Format.CSV:
        return exports.export_csv(
            year=year, out=out, cards=cards, business=business, progress=progress, window=window
        ), None
    if fmt == DisclosureExport.Format.ZIP:
        return exports.export_zip(
            year=year,
            out=out,
            cards=cards,
            business=business,
            notice_format=notice_format,
            progress=progress,
            window=window,
        ), None
    if fmt == DisclosureExport.Format.SUMMARY:
        summary = exports.export_summary(year=year, cards=cards)
        data = summary.as_csv().encode()
        out.write(data)
        return exports.ExportStats(
            rows=len(summary.rows), customers=summary.customers, bytes=len(data)
        ), summary
    raise ValidationError("Unknown export format '%(fmt)s'.", params={"fmt": fmt})


def export_build(*, export_id: int, stale_after: timedelta | None = None) -> DisclosureExport:
    """Build a queued export's file. Idempotent: a ready export is returned as is; a running one is left
    alone unless it is stale (its worker died), so a redelivered task finishes the job."""
    stale_after = stale_after or timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800))
    now = timezone.now()
    claimable = Q(status__in=[DisclosureExport.Status.PENDING, DisclosureExport.Status.FAILED]) | Q(
        status=DisclosureExport.Status.RUNNING, started_at__lt=now - stale_after
    )
    claimed = DisclosureExport.objects.filter(claimable, pk=export_id).update(
        status=DisclosureExport.Status.RUNNING, started_at=now, error=""
    )
    export = DisclosureExport.objects.get(pk=export_id)
    if not claimed:
        return export
    directory = exports_dir()
    name = secrets.token_urlsafe(32) + _EXTENSIONS[export.format]
    final = directory / name
    partial = directory / (name + ".part")
    try:
        with open(partial, "wb") as fh:
            stats, _summary = write_export(
                year=export.year, fmt=export.format, out=fh, notice_format=export.notice_format
            )
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        with transaction.atomic():
            DisclosureExport.objects.filter(pk=export_id).update(
                status=DisclosureExport.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
            )
            audit_record(
                action="disclosures.export_failed",
                actor="disclosures.build_export",
                target=export,
                details={"error": type(exc).__name__},
            )
        raise
    with transaction.atomic():
        finished = timezone.now()
        DisclosureExport.objects.filter(pk=export_id).update(
            status=DisclosureExport.Status.READY,
            file_name=name,
            row_count=stats.rows,
            size_bytes=final.stat().st_size,
            finished_at=finished,
            expires_at=finished + EXPORT_RETENTION,
        )
        export.refresh_from_db()
        audit_record(
            action="disclosures.export_built",
            actor="disclosures.build_export",
            target=export,
            details={
                "year": export.year,
                "format": export.format,
                "rows": stats.rows,
                "bytes": export.size_bytes,
            },
        )
    return export


@transaction.atomic
def export_retry(*, export_id: int, actor: Actor = None) -> bool:
    """Queue a failed export again (admin action). Returns False when it was not failed."""
    from .tasks import build_export

    task_id = str(uuid.uuid4())
    if not DisclosureExport.objects.filter(pk=export_id, status=DisclosureExport.Status.FAILED).update(
        status=DisclosureExport.Status.PENDING, task_id=task_id, error=""
    ):
        return False
    audit_record(
        action="disclosures.export_retried",
        actor=actor,
        target_type="disclosures.disclosureexport",
        target_id=export_id,
    )
    transaction.on_commit(lambda: build_export.apply_async(args=[export_id], task_id=task_id))
    return True


def export_file_path(export: DisclosureExport) -> Path | None:
    if export.status != DisclosureExport.Status.READY or not export.file_name:
        return None
    path = exports_dir() / export.file_name
    return path if path.exists() else None


@transaction.atomic
def export_downloaded(*, export: DisclosureExport, actor: Actor = None) -> None:
    audit_record(
        action="disclosures.export_downloaded",
        actor=actor,
        target=export,
        details={"year": export.year, "format": export.format, "rows": export.row_count},
    )


@transaction.atomic
def export_written(*, year: int, fmt: str, rows: int, actor: Actor = "manage.py export_1798_83") -> None:
    """Audit an export written from the command line (the file is wherever the operator put it)."""
    audit_record(
        action="disclosures.export_written",
        actor=actor,
        target_type="disclosures.disclosureexport",
        details={"year": year, "format": fmt, "rows": rows},
    )


def exports_purge_expired(*, actor: Actor = "disclosures.purge_exports") -> int:
    """Delete export files past their expiry (they hold customer references) and mark them expired."""
    purged = 0
    now = timezone.now()
    for export in DisclosureExport.objects.filter(status=DisclosureExport.Status.READY, expires_at__lt=now):
        with transaction.atomic():
            if not DisclosureExport.objects.filter(pk=export.pk, status=DisclosureExport.Status.READY).update(
                status=DisclosureExport.Status.EXPIRED
            ):
                continue
            if export.file_name:
                (exports_dir() / export.file_name).unlink(missing_ok=True)
            audit_record(action="disclosures.export_purged", actor=actor, target=export)
            purged += 1
    return purged
