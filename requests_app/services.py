"""Every write to a case: intake, the status workflow, verification, deadlines, notes, notices.

Status changes are guarded (`filter(pk=..., status=EXPECTED).update(...)`), so two officers or two
workers can't both move a case; each change writes a CaseEvent and an audit event in one transaction.
Fulfilment (exports, erasure, rectification, ...) lives in fulfilment.py.
"""

import json
import re
import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory import bulk, crypto
from inventory.models import DataSubject
from inventory.selectors import subject_find_by_email
from inventory.services import subject_create

from . import deadlines, gateways, policy
from .gateways import NoticeKinds
from .models import (
    CaseEvent,
    Channel,
    DenialBasis,
    PrivacyRequest,
    Regime,
    RequesterKind,
    RequestType,
    Status,
    VerificationLevel,
    VerificationMethod,
    VerificationToken,
)

VERIFY_SALT = "requests_app.verify"
STATUS_SALT = "requests_app.status"


class VerificationLinkError(ValidationError):
    """A verification link that can't be used; `code` says why (invalid, expired, used, superseded)."""


# --- helpers -----------------------------------------------------------------------------------------


def _seal_note(event: CaseEvent, note: str) -> str:
    """Seal an officer's note bound to its timeline row (the row id is reserved before the insert)."""
    if not note:
        return ""
    try:
        key = crypto.key_for_subject(event.subject_id)
        event.pk = bulk.reserve_ids(CaseEvent, 1)[0]
        return crypto.seal_field(key, event, "note", note)
    except crypto.KeyDestroyed as exc:
        raise ValidationError(
            "This subject was erased: free-text notes can no longer be stored for the case. "
            "Record the fact without personal data in the case's outcome instead."
        ) from exc


def case_event(
    *,
    case: PrivacyRequest,
    kind: str,
    summary: str,
    actor: Actor = None,
    note: str = "",
    details: dict | None = None,
    from_status: str = "",
    to_status: str = "",
) -> CaseEvent:
    """Append to the case's timeline and to the audit chain (summary and details: codes and ids only)."""
    details = json.loads(json.dumps(details or {}, default=str))
    event = CaseEvent(
        case=case,
        subject_id=case.subject_id,
        at=timezone.now(),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if hasattr(actor, "pk") else None,
        actor_label=actor_label(actor),
        summary=summary[:300],
        details=details,
    )
    event.note = _seal_note(event, note)
    event.save(force_insert=True)
    audit_record(
        action=f"request.{kind}",
        actor=actor,
        target=case,
        subject_id=case.subject_id,
        details={"reference": str(case.reference), "event_id": event.pk, **details},
    )
    return event


def _transition(
    case: PrivacyRequest,
    to: str,
    *,
    actor: Actor,
    summary: str = "",
    note: str = "",
    details: dict | None = None,
    **updates: Any,
) -> PrivacyRequest:
    """Move a case from its current status to `to`, refusing what policy.TRANSITIONS does not allow."""
    current = case.status
    if to not in policy.TRANSITIONS[current]:
        raise ValidationError(
            f"A case that is '{Status(current).label}' can't become '{Status(to).label}'.", code="transition"
        )
    now = timezone.now()
    fields = {"status": to, "status_changed_at": now, "updated_at": now, **updates}
    if to in (Status.COMPLETED, Status.DENIED, Status.WITHDRAWN):
        fields.setdefault("closed_at", now)
    moved = PrivacyRequest.objects.filter(pk=case.pk, status=current).update(**fields)
    if not moved:
        raise ValidationError(
            "Someone else changed this case meanwhile; reload it and try again.", code="concurrent"
        )
    for name, value in fields.items():
        setattr(case, name, value)
    case_event(
        case=case,
        kind=CaseEvent.Kind.TRANSITION,
        summary=summary or f"{Status(current).label} → {Status(to).label}",
        actor=actor,
        note=note,
        details=details,
        from_status=current,
        to_status=to,
    )
    return case


def _update(case: PrivacyRequest, **fields: Any) -> None:
    """Write a few fields without touching the rest (never `save()` a case: erasure may have blanked it)."""
    fields["updated_at"] = timezone.now()
    PrivacyRequest.objects.filter(pk=case.pk).update(**fields)
    for name, value in fields.items():
        setattr(case, name, value)


def _require_open(case: PrivacyRequest, action: str) -> None:
    if not case.is_open:
        raise ValidationError(f"The case is {Status(case.status).label.lower()}: it can't be {action}.")


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Give a reason for {what}."})
    return reason


def _absolute(path: str) -> str:
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + path


def status_link(case: PrivacyRequest) -> str:
    token = signing.dumps({"r": str(case.reference)}, salt=STATUS_SALT)
    return _absolute(reverse("requests_app:status", args=[token]))


def _requester_address(case: PrivacyRequest) -> str:
    return case.requester_email or case.subject.email


def send_case_notice(
    *,
    case: PrivacyRequest,
    kind: str,
    key: str,
    context: dict | None = None,
    to_email: str | None = None,
    actor: Actor = None,
):
    """Enqueue a notice through the outbox (in this transaction) and put it on the timeline."""
    base = {
        "reference": str(case.reference),
        # Variables of the notices app's templates (notices.defaults.SAMPLE_CONTEXTS).
        "request_type": policy.REQUEST_PHRASES.get(case.type, case.get_type_display()),
        "regime": policy.REGIME_PHRASES.get(case.regime, case.get_regime_display()),
        "received_on": timezone.localdate(case.received_at).isoformat(),
        "due_on": case.due_on.isoformat() if case.due_on else "",
        "status_url": status_link(case),
    }
    notice = gateways.notice_enqueue(
        kind=kind,
        idempotency_key=f"requests:{case.reference}:{key}",
        context={**base, **(context or {})},
        subject=case.subject,
        to_email=to_email or _requester_address(case) or None,
        actor=actor,
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.NOTICE,
        summary=f"Notice '{kind}' queued",
        actor=actor,
        details={"notice_kind": kind, "notice_id": getattr(notice, "pk", None)},
    )
    return notice


# --- intake ------------------------------------------------------------------------------------------


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
    since = received_at - policy.duplicate_window()
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
            f"(within {policy.duplicate_window().days} days)",
            actor=actor,
            details={"duplicate_of": str(duplicate.reference)},
        )
    if regime == Regime.CCPA and request_type in (RequestType.ACCESS, RequestType.PORTABILITY):
        from .selectors import requests_to_know_in_window

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
    _update(case, acknowledged_at=timezone.now())

    if case.verification_level_required == VerificationLevel.NONE:
        _transition(
            case,
            Status.IN_PROGRESS,
            actor=actor,
            summary="No identity verification needed for this request type (11 CCR §7026(d); GDPR Art. 21(3))",
            verification_method=VerificationMethod.NOT_REQUIRED,
            verification_level_achieved=VerificationLevel.NONE,
        )
        _after_in_progress(case, actor=actor)
    else:
        verification_start(case=case, actor=actor)
    return PrivacyRequest.objects.select_related("subject").get(pk=case.pk)


# --- verification ------------------------------------------------------------------------------------


def _verification_address(case: PrivacyRequest) -> str:
    """Parents verify themselves; everyone else proves control of the subject's address on file."""
    if case.requester_kind == RequesterKind.PARENT:
        return case.requester_email
    return case.subject.email or case.requester_email


@transaction.atomic
def verification_start(*, case: PrivacyRequest, actor: Actor = None) -> VerificationToken:
    """Send a signed, expiring, single-use link; earlier unused links stop working."""
    case = _lock(case)
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT):
        raise ValidationError("A verification link can only be sent while the requester's identity is open.")
    now = timezone.now()
    VerificationToken.objects.filter(case=case, used_at__isnull=True, superseded_at__isnull=True).update(
        superseded_at=now
    )
    nonce = secrets.token_urlsafe(24)
    token = VerificationToken.objects.create(
        case=case, nonce=nonce, created_at=now, expires_at=now + policy.verification_max_age()
    )
    link = _absolute(reverse("requests_app:verify", args=[signing.dumps({"n": nonce}, salt=VERIFY_SALT)]))
    if case.status != Status.VERIFYING:
        _transition(case, Status.VERIFYING, actor=actor, summary="Verification link sent")
    send_case_notice(
        case=case,
        kind=NoticeKinds.VERIFICATION,
        key=f"verify:{token.pk}",
        context={
            "verification_url": link,
            "expires_on": token.expires_at.isoformat(),
            "data_points": [],
            "instructions": "The link works once. Open it and press the button to confirm.",
        },
        to_email=_verification_address(case),
        actor=actor,
    )
    return token


def verification_token_read(token: str, *, allow_expired: bool = False) -> VerificationToken:
    """Check a link's signature and find its record; raises VerificationLinkError with a code."""
    try:
        max_age = None if allow_expired else policy.verification_max_age()
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise VerificationLinkError("This link has expired.", code="expired") from exc
    except signing.BadSignature as exc:
        raise VerificationLinkError("This link is not valid.", code="invalid") from exc
    row = (
        VerificationToken.objects.select_related("case", "case__subject")
        .filter(nonce=str(payload.get("n", "")))
        .first()
    )
    if row is None:
        raise VerificationLinkError("This link is not valid.", code="invalid")
    if row.used_at is not None:
        raise VerificationLinkError("This link was already used.", code="used")
    if row.superseded_at is not None:
        raise VerificationLinkError("A newer link was sent; use the latest one.", code="superseded")
    if not allow_expired and row.expires_at <= timezone.now():
        raise VerificationLinkError("This link has expired.", code="expired")
    return row


@transaction.atomic
def verification_confirm(*, token: str) -> PrivacyRequest:
    """The requester used the link: mark it used (once, guarded) and move the case on."""
    row = verification_token_read(token)
    now = timezone.now()
    used = VerificationToken.objects.filter(
        pk=row.pk, used_at__isnull=True, superseded_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        raise VerificationLinkError("This link was already used.", code="used")
    case = PrivacyRequest.objects.select_for_update().select_related("subject").get(pk=row.case_id)
    if case.status not in (Status.VERIFYING, Status.IDENTITY_IN_DOUBT):
        raise VerificationLinkError("This request no longer needs verification.", code="closed")
    level = policy.level_from_data_points(
        points=1 + case.data_points_matched, signed_declaration=case.signed_declaration
    )
    return _identity_verified(case, method=VerificationMethod.EMAIL_LINK, level=level, actor=None)


@transaction.atomic
def verification_resend_expired(*, token: str) -> PrivacyRequest:
    """An expired (but genuine, unused) link may ask for a fresh one, sent to the same address on file."""
    row = verification_token_read(token, allow_expired=True)
    if row.expires_at > timezone.now():
        raise VerificationLinkError("This link is still valid; use it.", code="valid")
    case = PrivacyRequest.objects.select_for_update().select_related("subject").get(pk=row.case_id)
    verification_start(case=case, actor="public verification page")
    return case


def _identity_verified(
    case: PrivacyRequest, *, method: str, level: str, actor: Actor, note: str = ""
) -> PrivacyRequest:
    now = timezone.now()
    _update(
        case,
        identity_verified_at=now,
        verification_method=method,
        verification_level_achieved=level,
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.VERIFICATION,
        summary=f"Identity verified: {VerificationMethod(method).label}, level {VerificationLevel(level).label}",
        actor=actor,
        note=note,
        details={"method": method, "level": level, "required": case.verification_level_required},
    )
    return _advance_if_ready(case, actor=actor)


def _advance_if_ready(case: PrivacyRequest, *, actor: Actor) -> PrivacyRequest:
    """Identity at the required level and, for agents/parents, authority shown → in progress."""
    if case.identity_verified_at is None:
        return case
    if policy.level_rank(case.verification_level_achieved) < policy.level_rank(
        case.verification_level_required
    ):
        reason = (
            f"Verification reached '{VerificationLevel(case.verification_level_achieved).label}' but this "
            f"request needs '{VerificationLevel(case.verification_level_required).label}' (11 CCR §7062)."
        )
        if case.status != Status.IDENTITY_IN_DOUBT:
            _transition(
                case, Status.IDENTITY_IN_DOUBT, actor=actor, summary="More information needed", note=""
            )
        _update(case, doubt_reason=reason)
        return case
    if case.requester_kind != RequesterKind.SUBJECT and case.authority_verified_at is None:
        if case.status == Status.IDENTITY_IN_DOUBT:
            _transition(
                case, Status.VERIFYING, actor=actor, summary="Identity verified; waiting for authority"
            )
        return case
    _transition(case, Status.IN_PROGRESS, actor=actor, summary="Verified: work can start")
    _after_in_progress(case, actor=actor)
    return case


def _after_in_progress(case: PrivacyRequest, *, actor: Actor) -> None:
    if case.type in policy.AUTO_FULFIL:
        from .fulfilment import request_fulfil

        request_fulfil(case=case, actor=actor)


@transaction.atomic
def request_verify_manually(
    *, case: PrivacyRequest, method: str, level: str, reason: str, actor: Actor
) -> PrivacyRequest:
    """An officer verified by phone, mail or documents; the reason says how (e.g. which data points)."""
    reason = _require_reason(reason, "a manual verification")
    if method not in (VerificationMethod.PHONE, VerificationMethod.MAIL, VerificationMethod.IN_PERSON):
        raise ValidationError({"method": "Manual verification is by phone, mail or in person."})
    if level not in VerificationLevel.values or level == VerificationLevel.NONE:
        raise ValidationError({"level": "Say which verification level was reached."})
    case = _lock(case)
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT):
        raise ValidationError("This case is not waiting for identity verification.")
    return _identity_verified(case, method=method, level=level, actor=actor, note=reason)


@transaction.atomic
def request_verify_authority(*, case: PrivacyRequest, document: str, actor: Actor) -> PrivacyRequest:
    """An officer checked the agent's signed permission (11 CCR §7063) or the parent's (16 CFR §312.5)."""
    document = _require_reason(document, "the authority (document reference)")
    case = _lock(case)
    if case.requester_kind == RequesterKind.SUBJECT:
        raise ValidationError("The subject is the requester: there is no authority to check.")
    _require_open(case, "changed")
    _update(
        case, authority_document=document, authority_verified_at=timezone.now(), authority_verified_by=actor
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.VERIFICATION,
        summary=f"{case.get_requester_kind_display()}'s authority verified",
        actor=actor,
        details={"authority": True},
    )
    if case.status in (Status.VERIFYING, Status.IDENTITY_IN_DOUBT, Status.RECEIVED):
        _advance_if_ready(case, actor=actor)
    return case


@transaction.atomic
def request_mark_identity_in_doubt(*, case: PrivacyRequest, reason: str, actor: Actor) -> PrivacyRequest:
    """GDPR Art. 12(6): reasonable doubts; more information is asked for before anything is released."""
    reason = _require_reason(reason, "doubting the requester's identity")
    case = _lock(case)
    _transition(case, Status.IDENTITY_IN_DOUBT, actor=actor, summary="Identity in doubt", note=reason)
    _update(case, doubt_reason=reason)
    return case


# --- officer actions ---------------------------------------------------------------------------------


def _lock(case: PrivacyRequest) -> PrivacyRequest:
    return PrivacyRequest.objects.select_for_update().select_related("subject").get(pk=case.pk)


@transaction.atomic
def request_assign(*, case: PrivacyRequest, assignee: Any, actor: Actor) -> PrivacyRequest:
    if assignee is not None and not (assignee.is_active and assignee.is_staff):
        raise ValidationError({"assignee": "Cases can only be assigned to active staff users."})
    case = _lock(case)
    _require_open(case, "assigned")
    _update(case, assignee=assignee)
    case_event(
        case=case,
        kind=CaseEvent.Kind.ASSIGNED,
        summary=f"Assigned to {assignee.get_username()}" if assignee else "Unassigned",
        actor=actor,
        details={"assignee_id": getattr(assignee, "pk", None)},
    )
    return case


@transaction.atomic
def request_note_add(*, case: PrivacyRequest, note: str, actor: Actor) -> CaseEvent:
    note = _require_reason(note, "a note (write something)")
    return case_event(case=case, kind=CaseEvent.Kind.NOTE, summary="Note added", actor=actor, note=note)


@transaction.atomic
def request_extend(*, case: PrivacyRequest, reason: str, actor: Actor) -> PrivacyRequest:
    """Extend once, inside the first period, with reasons sent to the requester (GDPR Art. 12(3);
    11 CCR §7021(b))."""
    reason = _require_reason(reason, "the extension (it is sent to the requester)")
    case = _lock(case)
    _require_open(case, "extended")
    rule = deadlines.rule_for(regime=case.regime, request_type=case.type)
    received_on = timezone.localdate(case.received_at)
    new_due = deadlines.extended_due(rule, received_on)
    if new_due is None:
        raise ValidationError(
            f"{case.get_regime_display()} allows no extension for this request ({rule.source})."
        )
    if case.extended_at is not None:
        raise ValidationError(f"The deadline was already extended; {rule.extension_source}.")
    if timezone.localdate() > case.first_due_on:
        raise ValidationError(
            f"Too late to extend: the notice had to reach the requester by {case.first_due_on} "
            f"({rule.extension_source})."
        )
    _update(case, extended_at=timezone.now(), extension_reason=reason, due_on=new_due)
    case_event(
        case=case,
        kind=CaseEvent.Kind.EXTENSION,
        summary=f"Deadline extended to {new_due} ({rule.extension_source})",
        actor=actor,
        details={"due_on": new_due, "first_due_on": case.first_due_on},
    )
    send_case_notice(
        case=case,
        kind=NoticeKinds.EXTENDED,
        key="extension",
        context={
            "original_due_on": case.first_due_on.isoformat(),
            "new_due_on": new_due.isoformat(),
            "reasons": reason,
            "legal_basis": rule.extension_source,
        },
        actor=actor,
    )
    return case


@transaction.atomic
def request_deny(*, case: PrivacyRequest, basis: str, reason: str, actor: Actor) -> PrivacyRequest:
    """Refuse with a reason the requester reads; GDPR refusals say they may complain (Art. 12(4))."""
    reason = _require_reason(reason, "the refusal (it is sent to the requester)")
    if basis not in DenialBasis.values:
        raise ValidationError({"basis": "Choose the basis of the refusal."})
    case = _lock(case)
    _transition(
        case,
        Status.DENIED,
        actor=actor,
        summary=f"Denied: {DenialBasis(basis).label}",
        details={"basis": basis},
        denial_basis=basis,
        denial_reason=reason,
    )
    context = {
        "basis": DenialBasis(basis).label,
        "reasons": f"{DenialBasis(basis).label}. {reason}",
        "appeal_instructions": policy.APPEAL_INSTRUCTIONS.get(basis, ""),
    }
    if case.regime == Regime.GDPR:
        context["right_to_complain"] = policy.SUPERVISORY_AUTHORITY_NOTE
    send_case_notice(case=case, kind=NoticeKinds.DENIED, key="denied", context=context, actor=actor)
    return case


@transaction.atomic
def request_withdraw(*, case: PrivacyRequest, reason: str, actor: Actor) -> PrivacyRequest:
    reason = _require_reason(reason, "the withdrawal")
    case = _lock(case)
    return _transition(case, Status.WITHDRAWN, actor=actor, summary="Withdrawn by the requester", note=reason)


@transaction.atomic
def request_set_lookback(*, case: PrivacyRequest, since: date, actor: Actor) -> PrivacyRequest:
    """CCPA: on the consumer's request the access package reaches back beyond 12 months, to 2022-01-01 at
    the earliest (Cal. Civ. Code §1798.130(a)(2)(B))."""
    case = _lock(case)
    _require_open(case, "changed")
    if case.regime != Regime.CCPA or case.type not in (RequestType.ACCESS, RequestType.PORTABILITY):
        raise ValidationError("Only CCPA access and portability packages have a lookback period.")
    if since < deadlines.CCPA_LOOKBACK_FLOOR:
        raise ValidationError(
            {
                "since": f"The CCPA lookback can't start before {deadlines.CCPA_LOOKBACK_FLOOR} (§1798.130(a)(2)(B))."
            }
        )
    if since > timezone.localdate(case.received_at):
        raise ValidationError({"since": "The lookback must start before the request was received."})
    _update(case, lookback_from=since)
    case_event(
        case=case,
        kind=CaseEvent.Kind.NOTE,
        summary=f"Access package covers records since {since}",
        actor=actor,
        details={"lookback_from": since},
    )
    return case


@transaction.atomic
def request_set_fee(
    *, case: PrivacyRequest, amount: Decimal, justification: str, actor: Actor
) -> PrivacyRequest:
    """GDPR Art. 12(5): requests are free; a fee only for manifestly unfounded or excessive ones, justified."""
    if amount < 0:
        raise ValidationError({"amount": "A fee can't be negative."})
    if amount > 0:
        justification = _require_reason(justification, "charging a fee (GDPR Art. 12(5))")
    case = _lock(case)
    _require_open(case, "charged")
    _update(case, fee_amount=amount, fee_justification=justification)
    case_event(
        case=case, kind=CaseEvent.Kind.NOTE, summary=f"Fee set to {amount}", actor=actor, note=justification
    )
    return case


@transaction.atomic
def request_complete(
    *,
    case: PrivacyRequest,
    actor: Actor,
    outcome_note: str = "",
    notice_kind: str = NoticeKinds.COMPLETED,
    notice_context: dict | None = None,
    to_email: str | None = None,
    notify: bool = True,
) -> PrivacyRequest:
    """Close a case that was fulfilled, telling the requester what was done."""
    case = _lock(case)
    _transition(
        case,
        Status.COMPLETED,
        actor=actor,
        summary="Completed",
        completed_at=timezone.now(),
        outcome_note=outcome_note or case.outcome_note,
        stuck_reason="",
    )
    if not notify:
        return case
    send_case_notice(
        case=case,
        kind=notice_kind,
        key="completed",
        context={
            "summary": case.outcome_note,
            "completed_on": timezone.localdate().isoformat(),
            **(notice_context or {}),
        },
        to_email=to_email,
        actor=actor,
    )
    return case


# --- reminders ---------------------------------------------------------------------------------------


def _days_left(case: PrivacyRequest) -> int | None:
    return (case.due_on - timezone.localdate()).days if case.due_on else None


def _case_admin_url(case: PrivacyRequest) -> str:
    return _absolute(reverse("admin:requests_app_privacyrequest_change", args=[case.pk]))


def reminders_send() -> dict[str, int]:
    """Beat task: unassigned cases after 5 days go to the privacy office; assignees hear 5 days before due.

    Idempotency keys make each reminder go once (per due date, so an extension re-arms it).
    """
    from django.conf import settings

    from .selectors import cases_due_soon_for_reminder, cases_unassigned_for_reminder

    sent = {"unassigned": 0, "due_soon": 0}
    for case in cases_unassigned_for_reminder():
        with transaction.atomic():
            send_case_notice(
                case=case,
                kind=NoticeKinds.ASSIGNEE_REMINDER,
                key="remind:unassigned",
                context={
                    "reminder": "unassigned",
                    "assignee_name": "privacy office",
                    "action": "Assign this case: it has been waiting for an owner for "
                    f"{(timezone.now() - case.received_at).days} days",
                    "days_left": _days_left(case),
                    "case_url": _case_admin_url(case),
                },
                to_email=settings.PRIVACY_OFFICE_EMAIL,
                actor="reminders",
            )
            _update(case, unassigned_reminder_at=timezone.now())
        sent["unassigned"] += 1
    for case in cases_due_soon_for_reminder():
        with transaction.atomic():
            send_case_notice(
                case=case,
                kind=NoticeKinds.ASSIGNEE_REMINDER,
                key=f"remind:due:{case.due_on.isoformat()}",
                context={
                    "reminder": "due_soon",
                    "assignee_name": case.assignee.get_full_name() or case.assignee.get_username(),
                    "action": f"Respond to the {case.get_type_display().lower()} request",
                    "days_left": _days_left(case),
                    "case_url": _case_admin_url(case),
                },
                to_email=case.assignee.email or settings.PRIVACY_OFFICE_EMAIL,
                actor="reminders",
            )
            _update(case, due_reminder_for=case.due_on)
        sent["due_soon"] += 1
    return sent
