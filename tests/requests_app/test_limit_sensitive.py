"""Issue 14 item 14: CCPA limit-sensitive-PI requests and the §1798.83(c)(2) opt-out under its own regime."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError as IntakeRejected

from consent.selectors import consent_is_current
from consent.services import consent_grant
from disclosures import services as disclosure_services
from disclosures.models import Purpose as DisclosurePurpose
from requests_app import deadlines, policy
from requests_app.models import PrivacyRequest, Regime, RequestType, Status, VerificationMethod
from tests.disclosures.factories import MarketingPartnerFactory
from tests.factories import DataSubjectFactory

from .factories import make_case

FORM = {
    "subject_name": "Cali Person",
    "subject_phone": "",
    "description": "",
    "requester_kind": "subject",
    "website": "",
}


def test_limit_sensitive_has_15_business_days_under_ccpa():
    rule = deadlines.rule_for(regime=Regime.CCPA, request_type=RequestType.LIMIT_SENSITIVE)
    assert str(rule.respond) == "15 business days" and "7027" in rule.source
    # Thu 2 July 2026 + 15 business days, skipping 3 July (Independence Day observed) = Fri 24 July.
    assert deadlines.respond_by(rule, date(2026, 7, 2)) == date(2026, 7, 24)


@pytest.mark.django_db
def test_a_limit_request_is_fulfilled_without_verification_and_the_consumer_is_told(
    outbox, django_capture_on_commit_callbacks
):
    subject = DataSubjectFactory(email="limit@example.com")
    with (
        time_machine.travel(datetime(2026, 7, 2, 18, 0, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for purpose in ("advertising_pixels", "share_marketing_partners", "marketing_email"):
            consent_grant(subject_id=subject.pk, purpose=purpose, channel="web_form")
        case = make_case(
            request_type=RequestType.LIMIT_SENSITIVE, regime=Regime.CCPA, subject_email="limit@example.com"
        )
    case = PrivacyRequest.objects.get(pk=case.pk)
    assert case.due_on == date(2026, 7, 24)
    assert case.status == Status.COMPLETED
    assert case.verification_method == VerificationMethod.NOT_REQUIRED
    for purpose in policy.LIMIT_SENSITIVE_PURPOSES:
        assert not consent_is_current(subject_id=subject.pk, purpose=purpose)
    assert consent_is_current(subject_id=subject.pk, purpose="marketing_email")  # not a marketing opt-out
    assert case.events.filter(kind="fulfilment", summary__startswith="Use of sensitive").exists()
    assert "request_completed" in outbox.kinds() or any("complet" in k for k in outbox.kinds())
    assert "identity_verification" not in outbox.kinds()


@pytest.mark.django_db
def test_a_limit_request_is_a_ccpa_request_only():
    with pytest.raises(IntakeRejected):
        make_case(request_type=RequestType.LIMIT_SENSITIVE, regime=Regime.GDPR)


@pytest.mark.django_db
def test_the_public_form_offers_the_limit_request(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                **FORM,
                "request_type": "limit_sensitive",
                "regime": "ccpa",
                "subject_email": "form.limit@example.com",
            },
        )
    assert response.status_code == 302
    case = PrivacyRequest.objects.get()
    assert (case.type, case.status) == (RequestType.LIMIT_SENSITIVE, Status.COMPLETED)
    refused = client.post(
        "/requests/new/",
        {**FORM, "request_type": "limit_sensitive", "regime": "gdpr", "subject_email": "x@example.com"},
    )
    assert refused.status_code == 200 and b"CCPA request" in refused.content


@pytest.mark.django_db
def test_a_1798_83_opt_out_filed_on_the_public_form_stops_direct_marketing_disclosures(
    client, django_capture_on_commit_callbacks
):
    subject = DataSubjectFactory(email="shine@example.com")
    consent_grant(subject_id=subject.pk, purpose="share_marketing_partners", channel="web_form")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                **FORM,
                "request_type": "opt_out",
                "regime": "cal_1798_83",
                "subject_email": "shine@example.com",
            },
        )
    assert response.status_code == 302
    case = PrivacyRequest.objects.get()
    assert (case.regime, case.status) == (Regime.CAL_1798_83, Status.COMPLETED)
    assert case.due_on is not None
    assert not consent_is_current(subject_id=subject.pk, purpose="share_marketing_partners")
    with pytest.raises(disclosure_services.OptedOutSubjects):
        disclosure_services.disclosure_batch_record(
            third_party_id=MarketingPartnerFactory().pk,
            purpose=DisclosurePurpose.DIRECT_MARKETING,
            subject_ids=[subject.pk],
            statutory_categories=["email"],
            actor="test",
        )


@pytest.mark.django_db
def test_other_requests_stay_refused_under_the_1798_83_regime():
    with pytest.raises(IntakeRejected):
        make_case(request_type=RequestType.ERASURE, regime=Regime.CAL_1798_83)
