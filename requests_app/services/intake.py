"""Intake: a new case is validated, linked to its subject, dated, checked for duplicates, acknowledged,
and sent either to identity verification or straight to work.

`request_create` reads as its steps; what differs per request type is in `INTAKE_RULES` (one row per
type) and `policy` (verification level), not in branches spread over the flow.
"""

import re
import uuid
from dataclasses import dataclass
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
    received_on = deadlines.received_on(received_at)
    rule = deadlines.rule_for(regime=regime, request_type=request_type)
    if rule.respond is None:
        due = deadlines.received_on(
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


@dataclass(frozen=True)
class IntakeRule:
    """What intake does differently for one request type (the rest of the flow is the same for all)."""

    subject_is_minor: bool = False  # COPPA deletion: a new subject is recorded as a child
    ccpa_right_to_know: bool = False  # CCPA: 12-month lookback and the twice-a-year limit (§1798.130)


INTAKE_RULES: dict[str, IntakeRule] = {
    RequestType.ACCESS: IntakeRule(ccpa_right_to_know=True),
    RequestType.PORTABILITY: IntakeRule(ccpa_right_to_know=True),
    RequestType.MINOR_DELETION: IntakeRule(subject_is_minor=True),
}
DEFAULT_INTAKE = IntakeRule()


@dataclass
class Intake:
    """A request as received, validated and normalised (the arguments of `request_create`)."""

    request_type: str
    regime: str
    channel: str
    subject_email: str
    subject_name: str = ""
    subject_phone: str = ""
    subject_postal_address: str = ""
    subject_country: str = ""
    subject_region: str = ""
    description: str = ""
    requester_kind: str = RequesterKind.SUBJECT
    requester_name: str = ""
    requester_email: str = ""
    requester_phone: str = ""
    authority_document: str = ""
    received_at: datetime | None = None
    received_at_designated_address: bool = True
    signed_declaration: bool = False
    reference: uuid.UUID | None = None  # set when the public form already gave the requester a link

    @property
    def rule(self) -> IntakeRule:
        return INTAKE_RULES.get(self.request_type, DEFAULT_INTAKE)

    @property
    def ccpa_right_to_know(self) -> bool:
        return self.regime == Regime.CCPA and self.rule.ccpa_right_to_know


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
    reference: uuid.UUID | None = None,
    actor: Actor = None,
) -> PrivacyRequest:
    """Open a case: link or create the subject, compute deadlines, flag duplicates, acknowledge, verify."""
    intake = Intake(
        request_type=request_type,
        regime=regime,
        channel=channel,
        subject_email=subject_email,
        subject_name=subject_name,
        subject_phone=subject_phone,
        subject_postal_address=subject_postal_address,
        subject_country=subject_country,
        subject_region=subject_region,
        description=description,
        requester_kind=requester_kind,
        requester_name=requester_name,
        requester_email=requester_email,
        requester_phone=requester_phone,
        authority_document=authority_document,
        received_at=received_at,
        received_at_designated_address=received_at_designated_address,
        signed_declaration=signed_declaration,
        reference=reference,
    )
    now = timezone.now()
    validate_intake(intake, now=now)
    subject, subject_existed, points = _subject_for(intake, actor=actor)
    case = _open_case(intake, subject=subject, points=points, now=now)
    _record_intake(case, intake, subject_existed=subject_existed, points=points, actor=actor)
    _acknowledge(case, actor=actor)
    _start_verification_or_work(case, actor=actor)
    return PrivacyRequest.objects.select_related("subject").get(pk=case.pk)


def validate_intake(intake: Intake, *, now: datetime) -> None:
    """Refuse an incomplete or inconsistent request with one message per field."""
    errors: dict[str, str] = {}
    if intake.request_type not in RequestType.values:
        errors["request_type"] = "Choose a request type."
    if intake.regime not in Regime.values:
        errors["regime"] = "Choose a regime."
    if intake.channel not in Channel.values:
        errors["channel"] = "Choose how the request came in."
    if intake.requester_kind not in RequesterKind.values:
        errors["requester_kind"] = "Say who is making the request."
    intake.subject_email = (intake.subject_email or "").strip()
    try:
        validate_email(intake.subject_email)
    except ValidationError:
        errors["subject_email"] = "Enter the data subject's email address, e.g. name@example.com."
    if problem := policy.regime_error(request_type=intake.request_type, regime=intake.regime):
        errors["regime"] = problem
    if intake.requester_kind != RequesterKind.SUBJECT:
        if not intake.requester_name.strip():
            errors["requester_name"] = "Give the agent's or parent's name."
        try:
            validate_email((intake.requester_email or "").strip())
        except ValidationError:
            errors["requester_email"] = "Give the agent's or parent's email address."
    intake.received_at = intake.received_at or now
    if intake.received_at > now:
        errors["received_at"] = "The date of receipt can't be in the future."
    if errors:
        raise ValidationError(errors)


def _subject_for(intake: Intake, *, actor: Actor) -> tuple[DataSubject, bool, int]:
    """The subject with this email, or a new one; (subject, existed, data points matching what we held)."""
    subject = subject_find_by_email(intake.subject_email)
    if subject is not None:
        return subject, True, _points_matching(subject, name=intake.subject_name, phone=intake.subject_phone)
    subject = subject_create(
        name=intake.subject_name,
        email=intake.subject_email,
        phone=intake.subject_phone,
        postal_address=intake.subject_postal_address,
        country=intake.subject_country,
        region=intake.subject_region,
        is_minor=True if intake.rule.subject_is_minor else None,
        actor=actor,
    )
    return subject, False, 0


def _lookback(intake: Intake) -> date | None:
    """CCPA right to know: 12 months back, never before the statutory floor (§1798.130(a)(2)(B))."""
    if not intake.ccpa_right_to_know:
        return None
    return max(
        deadlines.add_months(deadlines.received_on(intake.received_at), -deadlines.CCPA_LOOKBACK_MONTHS),
        deadlines.CCPA_LOOKBACK_FLOOR,
    )


def _open_case(intake: Intake, *, subject: DataSubject, points: int, now: datetime) -> PrivacyRequest:
    """Build and save the case row: requester, dates, verification level, possible duplicate."""
    by_subject = intake.requester_kind == RequesterKind.SUBJECT
    requester_name = (intake.requester_name or intake.subject_name) if by_subject else intake.requester_name
    requester_email = (
        (intake.requester_email or intake.subject_email) if by_subject else intake.requester_email
    )
    requester_phone = (
        (intake.requester_phone or intake.subject_phone) if by_subject else intake.requester_phone
    )
    case = PrivacyRequest(
        **({"reference": intake.reference} if intake.reference else {}),
        type=intake.request_type,
        regime=intake.regime,
        channel=intake.channel,
        status=Status.RECEIVED,
        status_changed_at=now,
        subject=subject,
        requester_kind=intake.requester_kind,
        requester_name=requester_name.strip(),
        requester_email=(requester_email or "").strip(),
        requester_phone=(requester_phone or "").strip(),
        requester_postal_address=intake.subject_postal_address if by_subject else "",
        description=intake.description.strip(),
        authority_document=intake.authority_document.strip(),
        received_at=intake.received_at,
        received_at_designated_address=intake.received_at_designated_address,
        verification_level_required=policy.required_verification_level(
            request_type=intake.request_type, regime=intake.regime
        ),
        data_points_matched=points,
        signed_declaration=intake.signed_declaration,
        possible_duplicate_of=find_possible_duplicate(
            subject_id=subject.pk, request_type=intake.request_type, received_at=intake.received_at
        ),
        lookback_from=_lookback(intake),
        **compute_due_dates(
            regime=intake.regime,
            request_type=intake.request_type,
            received_at=intake.received_at,
            at_designated_address=intake.received_at_designated_address,
        ),
    )
    case.full_clean()
    case.save()
    return case


def _record_intake(
    case: PrivacyRequest, intake: Intake, *, subject_existed: bool, points: int, actor: Actor
) -> None:
    """The timeline's first events: created, and the flags an officer must see (duplicate, frequency)."""
    case_event(
        case=case,
        kind=CaseEvent.Kind.CREATED,
        summary=f"{case.get_type_display()} received by {case.get_channel_display().lower()}",
        actor=actor,
        details={
            "type": intake.request_type,
            "regime": intake.regime,
            "channel": intake.channel,
            "requester_kind": intake.requester_kind,
            "due_on": case.due_on,
            "subject_existed": subject_existed,
            "data_points_matched": points,
        },
    )
    duplicate = case.possible_duplicate_of
    if duplicate is not None:
        case_event(
            case=case,
            kind=CaseEvent.Kind.DUPLICATE,
            summary=f"Same subject and type as case {str(duplicate.reference)[:8]} "
            f"(within {conf.duplicate_window().days} days)",
            actor=actor,
            details={"duplicate_of": str(duplicate.reference)},
        )
    if intake.ccpa_right_to_know:
        _flag_ccpa_frequency(case, actor=actor)


def _flag_ccpa_frequency(case: PrivacyRequest, *, actor: Actor) -> None:
    """CCPA: a business need not answer more than two requests to know in 12 months (§1798.130(b))."""
    count = requests_to_know_in_window(subject_id=case.subject_id, at=case.received_at)
    if count > deadlines.CCPA_FREQUENCY_LIMIT:
        case_event(
            case=case,
            kind=CaseEvent.Kind.DUPLICATE,
            summary=f"Request to know number {count} in 12 months: the business need not answer more "
            f"than {deadlines.CCPA_FREQUENCY_LIMIT} ({deadlines.CCPA_FREQUENCY_SOURCE})",
            actor=actor,
            details={"requests_to_know_12_months": count},
        )


def _acknowledge(case: PrivacyRequest, *, actor: Actor) -> None:
    """Acknowledge receipt at once (11 CCR §7021(a) asks for it within 10 business days)."""
    next_steps = (
        ""
        if case.verification_level_required == VerificationLevel.NONE
        else "We will send a separate link to confirm your identity before we act on your request."
    )
    send_case_notice(
        case=case, kind=NoticeKinds.ACKNOWLEDGED, key="ack", context={"next_steps": next_steps}, actor=actor
    )
    update_case(case, acknowledged_at=timezone.now())


def _start_verification_or_work(case: PrivacyRequest, *, actor: Actor) -> None:
    """Opt-outs need no verification and start at once; every other case gets a verification link."""
    if case.verification_level_required != VerificationLevel.NONE:
        verification_start(case=case, actor=actor)
        return
    transition(
        case,
        Status.IN_PROGRESS,
        actor=actor,
        summary="No identity verification needed for this request type (11 CCR §7026(d); GDPR Art. 21(3))",
        verification_method=VerificationMethod.NOT_REQUIRED,
        verification_level_achieved=VerificationLevel.NONE,
    )
    fulfil_if_automatic(case, actor=actor)
