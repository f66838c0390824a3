"""Identity verification: signed single-use links, manual checks by an officer, an agent's or parent's
authority, and doubt (GDPR Art. 12(6); 11 CCR §§7060-7063). A verified case moves to work."""

import secrets

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor

from .. import conf, policy
from ..gateways import NoticeKinds
from ..models import (
    CaseEvent,
    PrivacyRequest,
    RequesterKind,
    Status,
    VerificationLevel,
    VerificationMethod,
    VerificationToken,
)
from ..workflow import (
    absolute_url,
    case_event,
    lock_case,
    require_open,
    require_reason,
    send_case_notice,
    transition,
    update_case,
    verification_address,
)
from .fulfilment import fulfil_if_automatic

VERIFY_SALT = "requests_app.verify"


class VerificationLinkError(ValidationError):
    """A verification link that can't be used; `code` says why (invalid, expired, used, superseded)."""


@transaction.atomic
def verification_start(*, case: PrivacyRequest, actor: Actor = None) -> VerificationToken:
    """Send a signed, expiring, single-use link; earlier unused links stop working."""
    case = lock_case(case)
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT):
        raise ValidationError("A verification link can only be sent while the requester's identity is open.")
    now = timezone.now()
    VerificationToken.objects.filter(case=case, used_at__isnull=True, superseded_at__isnull=True).update(
        superseded_at=now
    )
    nonce = secrets.token_urlsafe(24)
    token = VerificationToken.objects.create(
        case=case, nonce=nonce, created_at=now, expires_at=now + conf.verification_max_age()
    )
    link = absolute_url(reverse("requests_app:verify", args=[signing.dumps({"n": nonce}, salt=VERIFY_SALT)]))
    if case.status != Status.VERIFYING:
        transition(case, Status.VERIFYING, actor=actor, summary="Verification link sent")
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
        to_email=verification_address(case),
        actor=actor,
    )
    return token


def verification_token_read(token: str, *, allow_expired: bool = False) -> VerificationToken:
    """Check a link's signature and find its record; raises VerificationLinkError with a code."""
    try:
        max_age = None if allow_expired else conf.verification_max_age()
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
    case = lock_case(row.case_id)
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
    case = lock_case(row.case_id)
    verification_start(case=case, actor="public verification page")
    return case


def _identity_verified(
    case: PrivacyRequest, *, method: str, level: str, actor: Actor, note: str = ""
) -> PrivacyRequest:
    now = timezone.now()
    update_case(
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
            transition(
                case, Status.IDENTITY_IN_DOUBT, actor=actor, summary="More information needed", note=""
            )
        update_case(case, doubt_reason=reason)
        return case
    if case.requester_kind != RequesterKind.SUBJECT and case.authority_verified_at is None:
        if case.status == Status.IDENTITY_IN_DOUBT:
            transition(
                case, Status.VERIFYING, actor=actor, summary="Identity verified; waiting for authority"
            )
        return case
    transition(case, Status.IN_PROGRESS, actor=actor, summary="Verified: work can start")
    fulfil_if_automatic(case, actor=actor)
    return case


@transaction.atomic
def request_verify_manually(
    *, case: PrivacyRequest, method: str, level: str, reason: str, actor: Actor
) -> PrivacyRequest:
    """An officer verified by phone, mail or documents; the reason says how (e.g. which data points)."""
    reason = require_reason(reason, "a manual verification")
    if method not in (VerificationMethod.PHONE, VerificationMethod.MAIL, VerificationMethod.IN_PERSON):
        raise ValidationError({"method": "Manual verification is by phone, mail or in person."})
    if level not in VerificationLevel.values or level == VerificationLevel.NONE:
        raise ValidationError({"level": "Say which verification level was reached."})
    case = lock_case(case)
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT):
        raise ValidationError("This case is not waiting for identity verification.")
    return _identity_verified(case, method=method, level=level, actor=actor, note=reason)


@transaction.atomic
def request_verify_authority(*, case: PrivacyRequest, document: str, actor: Actor) -> PrivacyRequest:
    """An officer checked the agent's signed permission (11 CCR §7063) or the parent's (16 CFR §312.5)."""
    document = require_reason(document, "the authority (document reference)")
    case = lock_case(case)
    if case.requester_kind == RequesterKind.SUBJECT:
        raise ValidationError("The subject is the requester: there is no authority to check.")
    require_open(case, "changed")
    update_case(
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
    reason = require_reason(reason, "doubting the requester's identity")
    case = lock_case(case)
    transition(case, Status.IDENTITY_IN_DOUBT, actor=actor, summary="Identity in doubt", note=reason)
    update_case(case, doubt_reason=reason)
    return case
