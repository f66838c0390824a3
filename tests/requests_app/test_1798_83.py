"""California 1798.83 cases: deadline from disclosures.rules, notice delivered through disclosures,
once per calendar year, recipients from the disclosure log told of erasures (Art. 19 / §1798.105)."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from disclosures.models import DisclosureNoticeRequest
from requests_app import gateways, services
from requests_app.models import (
    DenialBasis,
    PrivacyRequest,
    RecipientNotification,
    Regime,
    RequestType,
    Status,
)
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import DataSubjectFactory, make_full_subject

from .factories import make_case

MARCH = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def _notice_case(email: str, **kw) -> PrivacyRequest:
    return make_case(
        request_type=RequestType.NOTICE_1798_83, regime=Regime.CAL_1798_83, subject_email=email, **kw
    )


@pytest.mark.django_db
def test_due_date_is_30_days_at_a_designated_address_else_150():
    with time_machine.travel(MARCH, tick=False):
        designated = _notice_case("a@example.com")
        elsewhere = _notice_case("b@example.com", received_at_designated_address=False)
    assert designated.due_on == date(2026, 4, 9)
    assert elsewhere.due_on == date(2026, 8, 7)


@pytest.mark.django_db
def test_verified_request_delivers_the_notice_for_the_preceding_year(
    officer, outbox, django_capture_on_commit_callbacks
):
    customer = DataSubjectFactory(email="cal@example.com")
    log(customer, MarketingPartnerFactory(), "email", "telephone_number")
    with time_machine.travel(MARCH, tick=False):
        case = _notice_case("cal@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            services.request_verify_manually(
                case=case, method="phone", level="basic", reason="Called back", actor=officer
            )
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    delivered = DisclosureNoticeRequest.objects.get(subject=customer)
    assert (delivered.year, delivered.case_reference) == (2025, str(case.reference))
    assert "notice_1798_83_delivered" in [
        n.kind for n in __import__("notices.models").models.Notice.objects.all()
    ]
    assert "request_completed" not in outbox.kinds()  # the notice itself is the answer


@pytest.mark.django_db
def test_a_second_request_in_the_same_year_is_flagged_for_an_officer_who_may_deny_it(
    officer, django_capture_on_commit_callbacks
):
    DataSubjectFactory(email="twice@example.com")
    with time_machine.travel(MARCH, tick=False):
        first = _notice_case("twice@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            services.request_verify_manually(
                case=first, method="phone", level="basic", reason="ok", actor=officer
            )
        second = _notice_case("twice@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            services.request_verify_manually(
                case=second, method="phone", level="basic", reason="ok", actor=officer
            )
    second.refresh_from_db()
    assert second.status == Status.IN_PROGRESS
    assert "§1798.83(c)(1)" in second.stuck_reason
    services.request_deny(
        case=second, basis=DenialBasis.YEARLY_1798_83, reason="Already answered in March", actor=officer
    )
    assert PrivacyRequest.objects.get(pk=second.pk).status == Status.DENIED


@pytest.mark.django_db
def test_recipients_come_from_the_disclosure_log_too(officer, outbox, django_capture_on_commit_callbacks):
    partner = MarketingPartnerFactory(privacy_contact_email="privacy@partner.example")
    alice = make_full_subject(email="alice@example.com")
    log(alice, partner, "email")
    assert list(gateways.recipients_for_subject(subject_id=alice.pk)) == [partner]
    case = make_case(request_type=RequestType.ERASURE, subject_email="alice@example.com")
    services.request_verify_manually(case=case, method="phone", level="basic", reason="ok", actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    row = RecipientNotification.objects.get(case=case)
    assert (row.third_party, row.state) == (partner, RecipientNotification.State.SENT)
    assert outbox.last("recipient_notification")["to_email"] == "privacy@partner.example"
