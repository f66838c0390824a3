"""Cases talk to people through the real outbox (notices): rendered, idempotent, delivered after commit."""

import pytest
from django.core import mail

from notices.models import Notice
from requests_app import services
from requests_app.models import DenialBasis, Regime, RequestType

from .factories import make_case


@pytest.mark.django_db
def test_acknowledgement_and_verification_are_rendered_and_mailed_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(
            request_type=RequestType.ERASURE, regime=Regime.CCPA, subject_email="ann@example.com"
        )
    ack = Notice.objects.get(kind="request_acknowledged", subject=case.subject)
    assert str(case.reference) in ack.body_text
    assert "deletion of your personal information" in ack.body_text
    assert "California Consumer Privacy Act" in ack.body_text
    verify = Notice.objects.get(kind="identity_verification", subject=case.subject)
    assert "/requests/verify/" in verify.body_text
    assert {m.to[0] for m in mail.outbox} == {"ann@example.com"}
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_same_notice_is_never_queued_twice_for_a_case(officer):
    case = make_case(request_type=RequestType.ERASURE)
    services.request_deny(case=case, basis=DenialBasis.NO_DATA, reason="Nothing held", actor=officer)
    case.refresh_from_db()
    services.send_case_notice(case=case, kind="request_denied", key="denied", context={"reasons": "again"})
    assert Notice.objects.filter(kind="request_denied", subject=case.subject).count() == 1


@pytest.mark.django_db
def test_gdpr_denial_notice_tells_the_right_to_complain(officer):
    case = make_case(request_type=RequestType.ERASURE, regime=Regime.GDPR)
    services.request_deny(
        case=case, basis=DenialBasis.EXCESSIVE, reason="Fifth identical request", actor=officer
    )
    notice = Notice.objects.get(kind="request_denied", subject=case.subject)
    assert "supervisory authority" in notice.body_text
    assert "Fifth identical request" in notice.body_text


@pytest.mark.django_db
def test_extension_notice_gives_both_dates_and_the_reasons(officer):
    case = make_case(request_type=RequestType.ERASURE, regime=Regime.CCPA)
    services.request_extend(case=case, reason="Data sits with three processors", actor=officer)
    case.refresh_from_db()
    body = Notice.objects.get(kind="deadline_extended", subject=case.subject).body_text
    assert "Data sits with three processors" in body
    assert case.due_on.strftime("%Y") in body
