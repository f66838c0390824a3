"""Intake: a new case is validated, linked to its subject, dated, checked for duplicates, acknowledged,
and sent either to identity verification or straight to work.

`request_create` reads as its steps; what differs per request type is in `INTAKE_RULES` (one row per
type) and `policy` (verification level), not in branches spread over the flow.
"""

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from inventory.models import DataSubject
from inventory.selectors import subject_find_by_email
from inventory.services import subject_create

from .. import conf, deadlines, gateways, policy
from ..gateways import NoticeKinds
from ..models import (
    CaseEvent,
    Channel,
    PrivacyRequest,
    Regime,
    RequesterKind,
    RequestType,
    Status,
    VerificationLevel,
    VerificationMethod,
)
from ..selectors import requests_to_know_in_window
from ..workflow import case_event, send_case_notice, transition, update_case
from .fulfilment import fulfil_if_automatic
from .verification import verification_start


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _points_matching(subject: DataSubject, *, name: str, phone: str) -> int:
    """Data points given at intake that match what we already held (11 CCR §7060(c))."""
    points = 0
    if name and subject.name and " ".join(name.lower().split()) == " ".join(subject.name.lower().split()):
        points += 1
    if phone and subject.phone and _digits(phone)[-9:] == _digits(subject.phone)[-9:]:
        points += 1
    return points


def compute_due_dates(
    *, regime: str, request_type: str, received_at: datetime, at_designated_address: bool
) -> dict[str, date | None]:
    """First due date, acknowledgement date, per the rule tables (deadlines.py / disclosures.rules)."""
    received_on = timezone.localdate(received_at)
    rule = deadlines.rule_for(regime=regime, request_type=request_type)
    if rule.respond is None:
        due = timezone.localdate(
            gateways.notice_1798_83_due(received_at=received_at, at_designated_address=at_designated_address)
        )
    else:
        due = deadlines.respond_by(rule, received_on)
    return {
        "first_due_on": due,
        "due_on": due,
        "acknowledge_due_on": deadlines.acknowledge_by(rule, received_on),
    }


def find_possible_duplicate(
    *, subject_id: int, request_type: str, received_at: datetime, exclude_pk: int | None = None
) -> PrivacyRequest | None:
    since = received_at - conf.duplicate_window()
    qs = PrivacyRequest.objects.filter(
        subject_id=subject_id, type=request_type, received_at__gte=since, received_at__lte=received_at
    ).exclude(status=Status.WITHDRAWN)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("-received_at").first()


@transaction.atomic
def request_create(
    *,
    request_type: str,
    regime: str,
    channel: str,
    subject_email: str,
    subject_name: str = "",
    subject_phone: str = "",
    subject_postal_address: str = "",
    subject_country: str = "",
    subject_region: str = "",
    description: str = "",
    requester_kind: str = RequesterKind.SUBJECT,
    requester_name: str = "",
    requester_email: str = "",
    requester_phone: str = "",
    authority_document: str = "",
    received_at: datetime | None = None,
    received_at_designated_address: bool = True,
    signed_declaration: bool = False,
    actor: Actor = None,
) -> PrivacyRequest:
    """Open a case: link or create the subject, compute deadlines, flag duplicates, acknowledge, verify."""
    errors: dict[str, str] = {}
    if request_type not in RequestType.values:
        errors["request_type"] = "Choose a request type."
    if regime not in Regime.values:
        errors["regime"] = "Choose a regime."
    if channel not in Channel.values:
        errors["channel"] = "Choose how the request came in."
    if requester_kind not in RequesterKind.values:
        errors["requester_kind"] = "Say who is making the request."
    subject_email = (subject_email or "").strip()
    try:
        validate_email(subject_email)
    except ValidationError:
        errors["subject_email"] = "Enter the data subject's email address, e.g. name@example.com."
    if (request_type == RequestType.NOTICE_1798_83) != (regime == Regime.CAL_1798_83):
        errors["regime"] = (
            "A California 1798.83 notice request is handled under the Cal. 1798.83 regime only."
        )
    if requester_kind != RequesterKind.SUBJECT:
        if not requester_name.strip():
            errors["requester_name"] = "Give the agent's or parent's name."
        try:
            validate_email((requester_email or "").strip())
        except ValidationError:
            errors["requester_email"] = "Give the agent's or parent's email address."
    now = timezone.now()
    received_at = received_at or now
    if received_at > now:
        errors["received_at"] = "The date of receipt can't be in the future."
    if errors:
        raise ValidationError(errors)

    subject = subject_find_by_email(subject_email)
    subject_existed = subject is not None
    points = 0
    if subject is None:
        subject = subject_create(
            name=subject_name,
            email=subject_email,
            phone=subject_phone,
            postal_address=subject_postal_address,
            country=subject_country,
            region=subject_region,
            is_minor=True if request_type == RequestType.MINOR_DELETION else None,
            actor=actor,
        )
    else:
        points = _points_matching(subject, name=subject_name, phone=subject_phone)

    if requester_kind == RequesterKind.SUBJECT:
        requester_name = requester_name or subject_name
        requester_email = requester_email or subject_email
        requester_phone = requester_phone or subject_phone

    dates = compute_due_dates(
        regime=regime,
        request_type=request_type,
        received_at=received_at,
        at_designated_address=received_at_designated_address,
    )
    lookback = None
    if regime == Regime.CCPA and request_type in (RequestType.ACCESS, RequestType.PORTABILITY):
        lookback = max(
            deadlines.add_months(timezone.localdate(received_at), -deadlines.CCPA_LOOKBACK_MONTHS),
            deadlines.CCPA_LOOKBACK_FLOOR,
        )
    duplicate = find_possible_duplicate(
        subject_id=subject.pk, request_type=request_type, received_at=received_at
    )
    case = PrivacyRequest(
        type=request_type,
        regime=regime,
        channel=channel,
        status=Status.RECEIVED,
        status_changed_at=now,
        subject=subject,
        requester_kind=requester_kind,
        requester_name=requester_name.strip(),
        requester_email=(requester_email or "").strip(),
        requester_phone=(requester_phone or "").strip(),
        requester_postal_address=(subject_postal_address if requester_kind == RequesterKind.SUBJECT else ""),
        description=description.strip(),
        authority_document=authority_document.strip(),
        received_at=received_at,
        received_at_designated_address=received_at_designated_address,
        verification_level_required=policy.required_verification_level(
            request_type=request_type, regime=regime
        ),
        data_points_matched=points,
        signed_declaration=signed_declaration,
        possible_duplicate_of=duplicate,
        lookback_from=lookback,
        **dates,
    )
    case.full_clean()
    case.save()
    case_event(
        case=case,
        kind=CaseEvent.Kind.CREATED,
        summary=f"{case.get_type_display()} received by {case.get_channel_display().lower()}",
        actor=actor,
        details={
            "type": request_type,
            "regime": regime,
            "channel": channel,
            "requester_kind": requester_kind,
            "due_on": case.due_on,
            "subject_existed": subject_existed,
            "data_points_matched": points,
        },
    )
    if duplicate is not None:
        case_event(
            case=case,
            kind=CaseEvent.Kind.DUPLICATE,
            summary=f"Same subject and type as case {str(duplicate.reference)[:8]} "
            f"(within {conf.duplicate_window().days} days)",
            actor=actor,
            details={"duplicate_of": str(duplicate.reference)},
        )
    if regime == Regime.CCPA and request_type in (RequestType.ACCESS, RequestType.PORTABILITY):
        count = requests_to_know_in_window(subject_id=subject.pk, at=received_at)
        if count > deadlines.CCPA_FREQUENCY_LIMIT:
            case_event(
                case=case,
                kind=CaseEvent.Kind.DUPLICATE,
                summary=f"Request to know number {count} in 12 months: the business need not answer more "
                f"than {deadlines.CCPA_FREQUENCY_LIMIT} ({deadlines.CCPA_FREQUENCY_SOURCE})",
                actor=actor,
                details={"requests_to_know_12_months": count},
            )
    next_steps = (
        ""
        if case.verification_level_required == VerificationLevel.NONE
        else "We will send a separate link to confirm your identity before we act on your request."
    )
    send_case_notice(
        case=case, kind=NoticeKinds.ACKNOWLEDGED, key="ack", context={"next_steps": next_steps}, actor=actor
    )
    update_case(case, acknowledged_at=timezone.now())

    if case.verification_level_required == VerificationLevel.NONE:
        transition(
            case,
            Status.IN_PROGRESS,
            actor=actor,
            summary="No identity verification needed for this request type (11 CCR §7026(d); GDPR Art. 21(3))",
            verification_method=VerificationMethod.NOT_REQUIRED,
            verification_level_achieved=VerificationLevel.NONE,
        )
        fulfil_if_automatic(case, actor=actor)
    else:
        verification_start(case=case, actor=actor)
    return PrivacyRequest.objects.select_related("subject").get(pk=case.pk)
