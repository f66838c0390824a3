"""Identity verification: signed, expiring, single-use links; manual verification; levels; authority."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
import time_machine
from django.core.exceptions import ValidationError

from requests_app import services
from requests_app.models import (
    PrivacyRequest,
    Regime,
    RequesterKind,
    RequestType,
    Status,
    VerificationLevel,
    VerificationMethod,
)

from .factories import make_case


def _link_path(outbox) -> str:
    return urlparse(outbox.last("identity_verification")["context"]["verification_url"]).path


def _token(outbox) -> str:
    return _link_path(outbox).rstrip("/").split("/")[-1]


@pytest.mark.django_db
def test_the_link_goes_to_the_address_on_file_and_get_does_not_use_it(client, outbox):
    make_case(request_type=RequestType.ERASURE, subject_email="owner@example.com")
    notice = outbox.last("identity_verification")
    assert notice["to_email"] == "owner@example.com"
    path = _link_path(outbox)
    assert client.get(path).status_code == 200  # a mail scanner's prefetch
    assert client.get(path).status_code == 200  # still unused


@pytest.mark.django_db
def test_using_the_link_verifies_and_moves_the_case_on(client, outbox):
    case = make_case(request_type=RequestType.ERASURE)
    response = client.post(_link_path(outbox))
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS
    assert case.verification_method == VerificationMethod.EMAIL_LINK
    assert case.identity_verified_at is not None


@pytest.mark.django_db
def test_a_reused_link_gets_a_clear_page(client, outbox):
    make_case(request_type=RequestType.ERASURE)
    path = _link_path(outbox)
    client.post(path)
    again = client.post(path)
    assert again.status_code == 410
    assert b"already used" in again.content
    assert client.get(path).status_code == 410


@pytest.mark.django_db
def test_an_expired_link_gets_a_clear_page_and_can_ask_for_a_new_one(client, outbox):
    with time_machine.travel(datetime(2026, 2, 2, 9, 0, tzinfo=UTC), tick=False):
        case = make_case(request_type=RequestType.ERASURE)
        path = _link_path(outbox)
    with time_machine.travel(datetime(2026, 2, 5, 9, 1, tzinfo=UTC), tick=False):  # 72 h + 1 min
        response = client.post(path)
        assert response.status_code == 410
        assert b"expired" in response.content
        assert b"Send me a new link" in response.content
        assert PrivacyRequest.objects.get(pk=case.pk).status == Status.VERIFYING
        resent = client.post(path + "resend/")
        assert resent.status_code == 200
        new_path = _link_path(outbox)
        assert new_path != path
        assert client.post(new_path).status_code == 200
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_a_valid_link_cannot_be_used_to_spam_new_links(client, outbox):
    make_case(request_type=RequestType.ERASURE)
    path = _link_path(outbox)
    assert client.post(path + "resend/").status_code == 400


@pytest.mark.django_db
def test_a_tampered_or_foreign_link_is_refused(client, outbox):
    make_case(request_type=RequestType.ERASURE)
    path = _link_path(outbox)
    assert client.post(path[:-3] + "xx/").status_code == 400
    with pytest.raises(services.VerificationLinkError) as exc:
        services.verification_confirm(token="not-a-token")
    assert exc.value.code == "invalid"


@pytest.mark.django_db
def test_sending_a_new_link_supersedes_the_old_one(client, outbox, officer):
    case = make_case(request_type=RequestType.ERASURE)
    old = _link_path(outbox)
    services.verification_start(case=case, actor=officer)
    response = client.post(old)
    assert response.status_code == 400
    assert b"newer link" in response.content
    assert client.post(_link_path(outbox)).status_code == 200


@pytest.mark.django_db
def test_ccpa_access_needs_a_reasonably_high_degree_so_email_alone_leaves_identity_in_doubt(client, outbox):
    case = make_case(request_type=RequestType.ACCESS, regime=Regime.CCPA)
    assert case.verification_level_required == VerificationLevel.HIGH
    client.post(_link_path(outbox))
    case.refresh_from_db()
    assert case.status == Status.IDENTITY_IN_DOUBT
    assert "11 CCR §7062" in case.doubt_reason


@pytest.mark.django_db
def test_ccpa_access_with_three_matching_points_and_declaration_reaches_high(client, outbox):
    from tests.factories import DataSubjectFactory

    DataSubjectFactory(email="known@example.com", name="Jane Known", phone="+1 415 555 0111")
    make_case(
        request_type=RequestType.ERASURE,
        regime=Regime.CCPA,
        subject_email="known@example.com",
        subject_name="Jane Known",
        subject_phone="(415) 555-0111",
        signed_declaration=True,
    )
    client.post(_link_path(outbox))
    case = PrivacyRequest.objects.get(subject__email="known@example.com")
    assert case.verification_level_achieved == VerificationLevel.HIGH
    assert case.status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_manual_verification_needs_a_reason_and_records_method(officer):
    case = make_case(request_type=RequestType.ERASURE)
    with pytest.raises(ValidationError):
        services.request_verify_manually(
            case=case,
            method=VerificationMethod.PHONE,
            level=VerificationLevel.BASIC,
            reason="",
            actor=officer,
        )
    services.request_verify_manually(
        case=case,
        method=VerificationMethod.PHONE,
        level=VerificationLevel.REASONABLE,
        reason="Called back on the number on file; two data points matched",
        actor=officer,
    )
    case.refresh_from_db()
    assert (case.status, case.verification_method) == (Status.IN_PROGRESS, VerificationMethod.PHONE)
    event = case.events.filter(kind="verification").get()
    assert "two data points" not in event.note  # sealed


@pytest.mark.django_db
def test_identity_in_doubt_needs_a_reason_and_can_be_resolved(officer):
    case = make_case(request_type=RequestType.ERASURE)
    with pytest.raises(ValidationError):
        services.request_mark_identity_in_doubt(case=case, reason="", actor=officer)
    services.request_mark_identity_in_doubt(case=case, reason="Address differs from ours", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.IDENTITY_IN_DOUBT
    services.verification_start(case=case, actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.VERIFYING


@pytest.mark.django_db
def test_agent_case_waits_for_the_agents_authority(client, outbox, officer):
    case = make_case(
        request_type=RequestType.ERASURE,
        regime=Regime.CCPA,
        requester_kind=RequesterKind.AGENT,
        requester_name="Agent Smith",
        requester_email="agent@agency.example",
        signed_declaration=True,
    )
    assert outbox.last("request_acknowledged")["to_email"] == "agent@agency.example"
    # the subject proves control of their own address; the agent can't
    assert outbox.last("identity_verification")["to_email"] == case.subject.email
    services.request_verify_manually(
        case=case,
        method=VerificationMethod.PHONE,
        level=VerificationLevel.REASONABLE,
        reason="ok",
        actor=officer,
    )
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.VERIFYING
    services.request_verify_authority(case=case, document="Signed permission #A-17", actor=officer)
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS
    assert case.authority_verified_by == officer


@pytest.mark.django_db
def test_parent_verifies_through_their_own_address():
    case = make_case(
        request_type=RequestType.ERASURE,
        regime=Regime.COPPA,
        requester_kind=RequesterKind.PARENT,
        requester_name="Pat Parent",
        requester_email="parent@example.com",
    )
    assert services.verification_address(case) == "parent@example.com"


@pytest.mark.django_db
def test_agent_requests_need_the_agents_contact():
    with pytest.raises(ValidationError) as exc:
        make_case(requester_kind=RequesterKind.AGENT, requester_name="", requester_email="")
    assert {"requester_name", "requester_email"} <= set(exc.value.message_dict)


@pytest.mark.django_db
def test_link_lifetime_is_configurable(settings, outbox):
    settings.REQUESTS_VERIFICATION_HOURS = 1
    case = make_case(request_type=RequestType.ERASURE)
    token = case.verification_tokens.get()
    assert token.expires_at - token.created_at == timedelta(hours=1)
