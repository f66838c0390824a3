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
from .models import CenterLink

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
            "expires_on": link.expires_at.date().isoformat(),
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
