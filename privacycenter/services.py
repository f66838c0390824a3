"""Privacy center writes: sign-in links, choices per purpose, and requests filed already verified.

Every write goes through the lower apps' public services (consent ledger, requests_app intake and
verification, the notices outbox), so the center adds no second path to the ledger or to cases.
"""

import secrets

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from consent import conf as consent_conf
from consent.models import Channel, Purpose
from consent.services import consent_grant, consent_withdraw, web_choice_record
from consent.web_models import WebRule
from inventory.models import DataSubject
from inventory.selectors import subject_find_by_email
from notices.models import NoticeKind
from notices.services import notice_enqueue
from requests_app.models import PrivacyRequest, Regime, RequestType, VerificationToken
from requests_app.services import VERIFY_SALT, request_create, verification_confirm

from . import conf
from .models import CenterLink, DrpAgent, DrpRequest

LINK_SALT = "privacycenter.link"
ACTOR = "privacy-center"
# Requests a signed-in person can file from the center (the 1798.83 notice has its own route).
FILEABLE = (
    RequestType.ACCESS,
    RequestType.PORTABILITY,
    RequestType.RECTIFICATION,
    RequestType.ERASURE,
    RequestType.RESTRICTION,
    RequestType.OPT_OUT,
)


class CenterLinkError(ValidationError):
    """A sign-in link that can't be used; `code` is expired, used or invalid."""


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def center_link_url(nonce: str) -> str:
    return _absolute(reverse("privacycenter:enter", args=[signing.dumps({"n": nonce}, salt=LINK_SALT)]))


@transaction.atomic
def center_link_send(*, email: str) -> None:
    """Email a sign-in link when we hold the address; do nothing otherwise (the caller answers the same).

    Raises ValidationError only for text that is not an email address at all.
    """
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError("Enter your email address, e.g. name@example.com.") from exc
    subject = subject_find_by_email(email)
    if subject is None or subject.erased_at is not None:
        return
    now = timezone.now()
    link = CenterLink.objects.create(
        subject=subject, nonce=secrets.token_urlsafe(24), created_at=now, expires_at=now + conf.link_max_age()
    )
    # The identity-verification notice says exactly this ("confirm it is you, here is a link"); a kind
    # of its own would need a template in the notices app.
    notice_enqueue(
        kind=NoticeKind.IDENTITY_VERIFICATION,
        idempotency_key=f"privacycenter:link:{link.pk}",
        context={
            "reference": "your privacy center sign-in",
            "verification_url": center_link_url(link.nonce),
            "expires_on": link.expires_at.isoformat(),  # the notice states its date in the business calendar
            "data_points": [],
            "instructions": "The link opens your privacy center. It works once, for "
            f"{int(conf.link_max_age().total_seconds() // 60)} minutes.",
        },
        subject=subject,
        to_email=email,
        actor=ACTOR,
    )
    audit_record(
        action="privacycenter.link_sent",
        actor=ACTOR,
        target_type="privacycenter.centerlink",
        target_id=link.pk,
        subject_id=subject.pk,
    )


@transaction.atomic
def center_link_use(*, token: str) -> int:
    """Use a sign-in link once; returns the subject id. Raises CenterLinkError (expired, used, invalid)."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=conf.link_max_age())
    except signing.SignatureExpired as exc:
        raise CenterLinkError("This link has expired; ask for a new one.", code="expired") from exc
    except signing.BadSignature as exc:
        raise CenterLinkError("This link is not valid.", code="invalid") from exc
    now = timezone.now()
    link = CenterLink.objects.filter(nonce=str(payload.get("n", ""))).first()
    if link is None:
        raise CenterLinkError("This link is not valid.", code="invalid")
    used = CenterLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    if not used:
        code = "used" if link.used_at is not None else "expired"
        raise CenterLinkError("This link was already used or has expired; ask for a new one.", code=code)
    if DataSubject.objects.filter(pk=link.subject_id, erased_at__isnull=True).count() == 0:
        raise CenterLinkError("This link is not valid.", code="invalid")
    audit_record(
        action="privacycenter.signed_in",
        actor=ACTOR,
        target_type="privacycenter.centerlink",
        target_id=link.pk,
        subject_id=link.subject_id,
    )
    return link.subject_id


@transaction.atomic
def center_choice_set(
    *, subject_id: int, purpose: str, allowed: bool, ip: str = "", user_agent: str = ""
) -> None:
    """The signed-in person switches one purpose on or off (a ledger event with web-form evidence)."""
    if not Purpose.objects.filter(code=purpose, required=False, active=True).exists():
        raise ValidationError("That choice is not available.")
    evidence = {"ip": ip, "user_agent": user_agent, "form_id": "privacy-center"}
    if allowed:
        consent_grant(
            subject_id=subject_id,
            purpose=purpose,
            channel=Channel.WEB_FORM,
            evidence=evidence,
            actor=ACTOR,
            collection_point="privacy-center",
        )
    else:
        consent_withdraw(
            subject_id=subject_id, purpose=purpose, channel=Channel.WEB_FORM, evidence=evidence, actor=ACTOR
        )


def center_gpc_apply(*, subject_id: int, device_id: str | None, region: str = "") -> str:
    """A GPC signal seen while the person is signed in applies to them too (11 CCR §7025(c)(1)).

    Links the device (when the browser has one) and records the opt-out of sale/sharing for both.
    Returns the device id.
    """
    result = web_choice_record(
        device_id=device_id or None,
        choices={},
        gpc=True,
        region=region,
        channel=Channel.WEB_FORM,
        collection_point="privacy-center",
        rule=WebRule.GPC,
        person_id=subject_id,
        actor=ACTOR,
    )
    return result.device_id


def _regime_for(subject: DataSubject) -> str:
    if subject.country == "US" and subject.region == "CA":
        return Regime.CCPA
    if subject.country in consent_conf.OPT_IN_COUNTRIES:
        return Regime.GDPR
    return Regime.OTHER


@transaction.atomic
def center_request_file(*, subject_id: int, request_type: str, description: str = "") -> PrivacyRequest:
    """File a request for the signed-in person; the emailed link already proved control of the address.

    The case goes through the ordinary intake (deadlines, acknowledgement) and then through the
    ordinary email-link verification, confirmed here with the link the intake just issued.
    """
    if request_type not in FILEABLE:
        raise ValidationError("Choose a request type.")
    subject = DataSubject.objects.get(pk=subject_id, erased_at__isnull=True)
    case = request_create(
        request_type=request_type,
        regime=_regime_for(subject),
        channel="web",
        subject_email=subject.email,
        subject_country=subject.country,
        subject_region=subject.region,
        description=(description or "")[:2000],
        actor=ACTOR,
    )
    token = (
        VerificationToken.objects.filter(case=case, used_at__isnull=True, superseded_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if token is not None:
        case = verification_confirm(token=signing.dumps({"n": token.nonce}, salt=VERIFY_SALT))
    return case


# --- Data Rights Protocol (authorized agents) ---------------------------------------------------------

DRP_VERSION = "0.9.4"
# DRP exercise -> our request type (DRP §3.01). sale:opt-in is a consent, not a request: refused.
DRP_EXERCISES = {
    "sale:opt-out": RequestType.OPT_OUT,
    "sale:opt_out": RequestType.OPT_OUT,  # the spelling of DRP §3.01 and the business schema
    "deletion": RequestType.ERASURE,
    "access": RequestType.ACCESS,
    "access:categories": RequestType.ACCESS,
    "access:specific": RequestType.ACCESS,
}
DRP_MAX_WINDOW = (
    60 * 60
)  # seconds: a signed message may claim at most an hour between issued-at and expires-at


class DrpError(Exception):
    """A DRP message refused; `status` is the HTTP status, `message` says why (no personal data)."""

    def __init__(self, status: int, message: str, *, fatal: bool = True):
        super().__init__(message)
        self.status, self.message, self.fatal = status, message, fatal


def _token_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def drp_verify_signed(*, agent: DrpAgent, body: bytes, envelope: bool = True) -> dict:
    """DRP §3.07: base64(Ed25519 signature || JSON), verified with the agent's registered key.

    With `envelope` (exercise, key setup) the agent, business and validity window are checked too; a
    revoke message (§2.04) carries only a reason.
    """
    import base64
    import binascii
    import json
    from datetime import datetime

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(body.strip(), validate=True)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(agent.verify_key))
    except (binascii.Error, ValueError) as exc:
        raise DrpError(400, "The message is not a base64 signed DRP message.") from exc
    if len(raw) <= 64:
        raise DrpError(400, "The message is not a base64 signed DRP message.")
    signature, message = raw[:64], raw[64:]
    try:
        key.verify(signature, message)
    except InvalidSignature as exc:
        raise DrpError(403, "The signature does not match the agent's key.") from exc
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise DrpError(400, "The signed message is not JSON.") from exc
    if not isinstance(data, dict):
        raise DrpError(400, "The signed message must be a JSON object.")
    if not envelope:
        return data
    if data.get("agent-id") != agent.agent_id:
        raise DrpError(403, "The message names another agent.")
    if data.get("business-id") != drp_business_id():
        raise DrpError(403, "The message is addressed to another business.")
    try:
        issued = datetime.fromisoformat(str(data.get("issued-at", "")))
        expires = datetime.fromisoformat(str(data.get("expires-at", "")))
    except ValueError as exc:
        raise DrpError(400, "issued-at and expires-at must be ISO 8601 times.") from exc
    if issued.utcoffset() is None or expires.utcoffset() is None:
        raise DrpError(400, "issued-at and expires-at need a time zone.")
    now = timezone.now()
    if expires <= now or issued > now + timezone.timedelta(minutes=5):
        raise DrpError(400, "The message has expired or is dated in the future.")
    if (expires - issued).total_seconds() > DRP_MAX_WINDOW:
        raise DrpError(400, "The message's validity window is too long.")
    return data


def drp_business_id() -> str:
    return getattr(settings, "DRP_BUSINESS_ID", "") or settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0]


@transaction.atomic
def drp_agent_token_issue(*, agent_id: str, body: bytes) -> tuple[DrpAgent, str]:
    """DRP §2.05 pair-wise key setup: a signed message from a registered agent gets a fresh bearer token."""
    agent = DrpAgent.objects.select_for_update().filter(agent_id=agent_id, active=True).first()
    if agent is None:
        raise DrpError(403, "Unknown agent.")
    drp_verify_signed(agent=agent, body=body)
    token = secrets.token_urlsafe(32)
    agent.token_sha256 = _token_hash(token)
    agent.token_issued_at = timezone.now()
    agent.save(update_fields=["token_sha256", "token_issued_at"])
    audit_record(
        action="privacycenter.drp_token_issued",
        actor=ACTOR,
        target_type="privacycenter.drpagent",
        target_id=agent.pk,
    )
    return agent, token


def drp_agent_for_token(token: str) -> DrpAgent | None:
    if not token:
        return None
    return DrpAgent.objects.filter(token_sha256=_token_hash(token), active=True).first()


def _drp_identity(data: dict) -> dict:
    email = str(data.get("email") or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DrpError(400, "The request needs the consumer's email address (claim 'email').") from exc
    return {
        "email": email,
        "name": str(data.get("name") or "")[:200],
        "phone": str(data.get("phone_number") or "")[:40],
        "address": str(data.get("address") or "")[:500],
    }


@transaction.atomic
def drp_request_submit(*, agent: DrpAgent, body: bytes) -> DrpRequest:
    """DRP §2.01: a signed exercise request becomes a case with the agent as requester.

    The consumer's identity is verified by the ordinary email link and the agent's authority by an
    officer (request_verify_authority), exactly as for an agent filing by email (11 CCR §7063).
    """
    import uuid

    data = drp_verify_signed(agent=agent, body=body)
    if str(data.get("drp.version", "")) != DRP_VERSION:
        raise DrpError(400, f"This business speaks DRP {DRP_VERSION}.")
    exercise = data.get("exercise")
    if exercise not in DRP_EXERCISES:
        raise DrpError(400, "This right is not supported here; see /.well-known/data-rights.json.")
    regime = data.get("regime")
    if regime not in (None, "", "ccpa"):
        raise DrpError(400, "Only the ccpa regime (or none, voluntary) is supported.")
    agent_request_id = str(data.get("agent-request-id") or "")[:100]
    if agent_request_id:
        earlier = DrpRequest.objects.filter(agent=agent, agent_request_id=agent_request_id).first()
        if earlier is not None:
            return earlier  # the agent retried: one case per agent request id
    identity = _drp_identity(data)
    callback = str(data.get("status_callback") or "")
    if callback and not callback.startswith("https://"):
        raise DrpError(400, "status_callback must be an https URL.")
    case = request_create(
        request_type=DRP_EXERCISES[exercise],
        regime=Regime.CCPA if regime == "ccpa" else Regime.OTHER,
        channel="web",
        subject_email=identity["email"],
        subject_name=identity["name"],
        subject_phone=identity["phone"],
        subject_postal_address=identity["address"],
        requester_kind="agent",
        requester_name=agent.name[:200],
        requester_email=agent.contact_email,
        description=f"Filed by authorized agent {agent.name} through the Data Rights Protocol ({exercise}).",
        actor=f"drp:{agent.agent_id}"[:150],
    )
    return DrpRequest.objects.create(
        request_id=uuid.uuid4(),
        agent=agent,
        agent_request_id=agent_request_id,
        case=case,
        exercise=exercise,
        status_callback=callback[:200],
        received_at=case.received_at,
    )


@transaction.atomic
def drp_request_revoke(*, drp: DrpRequest, reason: str = "") -> DrpRequest:
    """DRP §2.04: the agent revokes an open request; the case is withdrawn."""
    from requests_app.models import OPEN_STATUSES
    from requests_app.services import request_withdraw

    if drp.case.status not in OPEN_STATUSES:
        raise DrpError(400, "This request is already final.", fatal=False)
    request_withdraw(
        case=drp.case,
        reason=(reason or "Revoked by the authorized agent (DRP).")[:500],
        actor=f"drp:{drp.agent.agent_id}"[:150],
    )
    drp.case.refresh_from_db()
    return drp
