"""Opt-out cases withdraw marketing consent at once through the consent ledger (no verification needed)."""

import pytest

from consent.models import ConsentEvent
from consent.selectors import consent_is_current
from consent.services import consent_grant
from notices.models import Notice, NoticeKind
from requests_app import policy
from requests_app.models import PrivacyRequest, Regime, RequestType, Status, VerificationMethod
from tests.factories import DataSubjectFactory

from .factories import make_case


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["web", "email", "phone", "mail"])
def test_opt_out_takes_effect_at_intake_without_verification(
    channel, outbox, django_capture_on_commit_callbacks
):
    subject = DataSubjectFactory(email="optout@example.com")
    for purpose in ("marketing_email", "marketing_phone"):
        consent_grant(subject_id=subject.pk, purpose=purpose, channel="web_form")
    assert consent_is_current(subject_id=subject.pk, purpose="marketing_email")
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(request_type=RequestType.OPT_OUT, regime=Regime.GDPR, subject_email="optout@example.com",
                         channel=channel)  # fmt: skip
    case = PrivacyRequest.objects.get(pk=case.pk)
    assert case.status == Status.COMPLETED
    assert case.verification_method == VerificationMethod.NOT_REQUIRED
    for purpose in policy.OPT_OUT_PURPOSES[Regime.GDPR]:
        assert not consent_is_current(subject_id=subject.pk, purpose=purpose)
    withdrawal = ConsentEvent.objects.filter(subject_id=subject.pk, purpose__code="marketing_email").latest(
        "id"
    )
    assert withdrawal.channel == policy.CONSENT_CHANNEL[channel]
    assert "identity_verification" not in outbox.kinds()
    assert case.events.filter(kind="fulfilment", summary__startswith="Consent withdrawn").exists()
    # One confirmation for the whole opt-out, naming what it ended; not one email per purpose.
    (confirmation,) = Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED, subject=subject)
    assert "marketing emails" in confirmation.body_text and "marketing calls" in confirmation.body_text


@pytest.mark.django_db
def test_ccpa_opt_out_records_the_opt_out_of_sharing_even_without_prior_consent(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(request_type=RequestType.OPT_OUT, regime=Regime.CCPA, subject_email="ca@example.com")
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert ConsentEvent.objects.filter(
        subject_id=case.subject_id, purpose__code="share_marketing_partners", action="withdraw"
    ).exists()
