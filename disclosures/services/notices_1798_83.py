"""§1798.83 notices: deliver a customer's notice for a year through the outbox, signed links, previews."""

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataSubject

from .. import conf, integrations, rules, selectors
from ..models import DisclosureNoticeRequest, NoticeCorrection
from ..notice import NoticeContent, render_html_fragment, render_text
from ..statutory import BY_CODE
from .common import validate_year

NOTICE_LINK_MAX_AGE = timedelta(days=90)
NOTICE_LINK_SALT = "disclosures.notice"


def notice_link_token(request_public_id: uuid.UUID | str) -> str:
    """A signed, expiring token for a notice link: the public id alone must not open a notice."""
    return signing.dumps(str(request_public_id), salt=NOTICE_LINK_SALT, compress=True)


def notice_link_open(token: str) -> str:
    """The request public id behind a notice link; raises signing.BadSignature when forged or expired."""
    return signing.loads(token, salt=NOTICE_LINK_SALT, max_age=NOTICE_LINK_MAX_AGE)


def notice_links(request_public_id: uuid.UUID | str) -> dict[str, str]:
    """Absolute signed links to the notice in each format, for the email the outbox sends."""
    token = notice_link_token(request_public_id)
    base = conf.site_url()
    return {
        fmt: base + reverse("disclosures:notice", kwargs={"token": token, "fmt": fmt})
        for fmt in ("html", "pdf", "txt")
    }


def notice_context(content: NoticeContent, *, links: Mapping[str, str]) -> dict:
    """What the outbox's `notice_1798_83_delivered` template gets (notices.defaults): the notice in the
    standard layout (`notice_text`, which the template prints as is), its parts, and signed links.

    Holds no personal data of the customer (reference ids, categories, businesses' names/addresses).
    """
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


def notice_deliver(
    *,
    subject_id: int,
    year: int,
    case_reference: str,
    kind: str,
    correction: NoticeCorrection | None,
    actor: Actor,
) -> tuple[DisclosureNoticeRequest, Any]:
    validate_year(year)
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
                idempotency_key=notice_idempotency_key(existing),
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
        idempotency_key=notice_idempotency_key(request),
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


def notice_idempotency_key(request: DisclosureNoticeRequest) -> str:
    """The outbox key: per case when there is one (a retry sends nothing new), else per notice."""
    if request.case_reference:
        return f"disclosures:1798.83:{request.subject_id}:{request.year}:{request.case_reference}"
    return f"disclosures:1798.83:{request.public_id}"


@transaction.atomic
def notice_1798_83_deliver(
    *, subject_id: int, year: int, case_reference: str = "", actor: Actor = None
) -> Any:
    """Generate the customer's §1798.83 notice for calendar year `year` and send it through the outbox.

    Records a DisclosureNoticeRequest (what was said, flagged when a notice for that year was already
    delivered on request: §1798.83(c)(1)). Idempotent per (customer, year, case_reference): a retry
    of the same case returns the notice already queued. Returns the notices.Notice.
    """
    _request, notice = notice_deliver(
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
    validate_year(year)
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
