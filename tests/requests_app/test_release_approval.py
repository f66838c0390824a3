"""Issue 14 item 15: access, portability and §1798.83 packages leave only after an officer approved them
from the case page, with a preview of what will be sent (REQUESTS_RELEASE_NEEDS_APPROVAL, default on)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from disclosures.models import DisclosureNoticeRequest
from requests_app import conf, services
from requests_app.models import AccessPackage, PrivacyRequest, Regime, RequestType, Status, VerificationLevel
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import DataSubjectFactory, make_full_subject

from .factories import make_case

MARCH = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def test_the_approval_is_on_unless_switched_off(settings):
    del settings.REQUESTS_RELEASE_NEEDS_APPROVAL
    assert conf.release_needs_approval() is True
    settings.REQUESTS_RELEASE_NEEDS_APPROVAL = False
    assert conf.release_needs_approval() is False


def _verified_access(officer, email: str, capture, kind=RequestType.ACCESS) -> PrivacyRequest:
    case = make_case(request_type=kind, subject_email=email)
    with capture(execute=True):
        services.request_verify_manually(
            case=case, method="phone", level=VerificationLevel.HIGH, reason="3 points", actor=officer
        )
    return PrivacyRequest.objects.get(pk=case.pk)


@pytest.mark.django_db
def test_a_built_access_package_is_not_sent_until_an_officer_approves_it_from_the_case_page(
    release_approval, officer, client, outbox, django_capture_on_commit_callbacks
):
    make_full_subject(email="alice@example.com")
    case = _verified_access(officer, "alice@example.com", django_capture_on_commit_callbacks)
    assert case.status == Status.AWAITING_APPROVAL
    package = AccessPackage.objects.get(case=case)
    assert "request_completed" not in outbox.kinds()  # nothing left the building

    client.force_login(officer)
    page = client.get(reverse("admin:requests_app_privacyrequest_change", args=[case.pk])).content.decode()
    assert "Preview and approve the release" in page
    url = reverse("admin:requests_app_privacyrequest_act", args=[case.pk, "approve_release"])
    preview = client.get(url).content.decode()
    assert "What will be sent" in preview and "alice@example.com" in preview
    assert f"{package.record_count} record(s)" in preview
    assert "request_completed" not in outbox.kinds()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    sent = outbox.last("request_completed")
    assert sent["to_email"] == "alice@example.com" and sent["context"]["download_url"]
    assert case.events.filter(summary__startswith="Release approved", actor=officer).exists()


@pytest.mark.django_db
def test_a_portability_package_waits_too_and_approval_refuses_a_case_not_waiting(
    release_approval, officer, django_capture_on_commit_callbacks
):
    make_full_subject(email="pat@example.com")
    case = _verified_access(
        officer, "pat@example.com", django_capture_on_commit_callbacks, RequestType.PORTABILITY
    )
    assert case.status == Status.AWAITING_APPROVAL
    services.request_release_approve(case=case, actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="waiting for an officer"):
        services.request_release_approve(case=case, actor=officer)


@pytest.mark.django_db
def test_a_1798_83_notice_waits_and_the_preview_shows_its_text(
    release_approval, officer, client, django_capture_on_commit_callbacks
):
    customer = DataSubjectFactory(email="cal@example.com")
    partner = MarketingPartnerFactory()
    log(customer, partner, "email", "telephone_number")
    with time_machine.travel(MARCH, tick=False):
        case = make_case(
            request_type=RequestType.NOTICE_1798_83,
            regime=Regime.CAL_1798_83,
            subject_email="cal@example.com",
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.request_verify_manually(
                case=case, method="phone", level="basic", reason="Called back", actor=officer
            )
        assert PrivacyRequest.objects.get(pk=case.pk).status == Status.AWAITING_APPROVAL
        assert not DisclosureNoticeRequest.objects.filter(subject=customer).exists()
        client.force_login(officer)
        url = reverse("admin:requests_app_privacyrequest_act", args=[case.pk, "approve_release"])
        preview = client.get(url).content.decode()
        assert "§1798.83 notice for 2025" in preview and partner.legal_name in preview
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED
    assert DisclosureNoticeRequest.objects.get(subject=customer).year == 2025
