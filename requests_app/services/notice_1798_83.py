"""Cal. Civ. Code §1798.83 requests: the disclosures app delivers the notice for the covered year."""

from django.core.exceptions import ValidationError
from django.db import transaction

from core.actors import Actor

from .. import gateways
from ..models import CaseEvent, PrivacyRequest
from ..workflow import case_event
from .officer_actions import request_complete
from .release_gate import release_awaits_approval


def notice_1798_83_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    """§1798.83: disclosures made in the preceding calendar year, once per customer per calendar year.

    `year` is the calendar year the notice covers (disclosures.rules counts requests per covered year).
    """
    year = gateways.notice_1798_83_year_covered(received_at=case.received_at)
    with transaction.atomic():
        prior = gateways.prior_1798_83_requests(
            subject_id=case.subject_id, year=year, exclude_reference=str(case.reference)
        )
        if prior:
            raise ValidationError(
                f"A 1798.83 notice covering {year} was already given to this customer this calendar year "
                "(§1798.83(c)(1)); deny with that basis or answer voluntarily."
            )
        if release_awaits_approval(
            case=case,
            actor=actor,
            summary=f"1798.83 notice for {year} ready: waiting for an officer's approval",
        ):
            return
        notice_1798_83_release(case=case, actor=actor, year=year)


def notice_1798_83_release(*, case: PrivacyRequest, actor: Actor, year: int) -> None:
    """Deliver the notice for `year` and complete the case (inside the caller's transaction)."""
    with transaction.atomic():
        notice = gateways.notice_1798_83_deliver(
            subject_id=case.subject_id, year=year, case_reference=str(case.reference), actor=actor
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.NOTICE,
            summary=f"1798.83 notice for {year} delivered",
            actor=actor,
            details={"notice_id": getattr(notice, "pk", None), "year": year},
        )
        request_complete(
            case=case, actor=actor, outcome_note=f"1798.83 notice for {year} sent.", notify=False
        )
