"""Erasure cases through retention's engine: certificate, legal holds honoured, minors, Art. 19."""

import pytest

pytest.importorskip("retention.services", reason="retention app not merged into this branch yet")

from django.core.exceptions import ValidationError  # noqa: E402

from inventory import models as inv  # noqa: E402
from inventory.services import record_create  # noqa: E402
from requests_app import services  # noqa: E402
from requests_app.models import (  # noqa: E402
    PrivacyRequest,
    RecipientNotification,
    Regime,
    RequesterKind,
    RequestType,
    Status,
)
from retention.models import ErasureCertificate, LegalHold  # noqa: E402
from tests.factories import ThirdPartyFactory, make_full_subject  # noqa: E402

from .factories import make_case  # noqa: E402


def _verified(officer, email, **kw):
    case = make_case(request_type=RequestType.ERASURE, subject_email=email, **kw)
    services.request_verify_manually(
        case=case, method="phone", level="high", reason="Called back", actor=officer
    )
    return PrivacyRequest.objects.get(pk=case.pk)


@pytest.mark.django_db
def test_erasure_case_erases_the_subject_and_links_the_certificate(
    officer, outbox, django_capture_on_commit_callbacks
):
    alice = make_full_subject(email="alice@example.com", name="Alice Liddell")
    bob = make_full_subject(email="bob@example.com")
    case = _verified(officer, "alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    certificate = ErasureCertificate.objects.get(pk=case.erasure_certificate_id)
    assert certificate.case_reference == str(case.reference)
    assert certificate.key_destroyed and certificate.kept_count == 0
    assert not inv.ContactPoint.objects.filter(subject=alice).exists()
    assert inv.ContactPoint.objects.filter(subject=bob).exists()
    alice.refresh_from_db()
    assert alice.erased_at is not None and alice.email == ""
    assert case.requester_email != "alice@example.com"  # hashed by the registry strategy
    confirmation = outbox.last("erasure_confirmation")
    assert confirmation["to_email"] == "alice@example.com"  # captured before the erasure
    assert confirmation["context"]["certificate_reference"] == str(certificate.public_id)
    assert confirmation["context"]["kept_records"] == []
    assert case.events.filter(kind="erasure").exists()


@pytest.mark.django_db
def test_erasure_with_a_legal_hold_keeps_the_records_and_says_why(
    officer, outbox, django_capture_on_commit_callbacks
):
    """Issue 14 items 5-6: the case waits for the hold's release (never "completed"), and the reply
    names what was erased, what was kept and under which exception."""
    alice = make_full_subject(email="alice@example.com")
    dispute = _verified(officer, "alice@example.com")
    hold = services.request_legal_hold_place(case=dispute, reason="Pending litigation", actor=officer)
    assert LegalHold.objects.get(pk=hold.pk).case_reference == str(dispute.reference)
    assert PrivacyRequest.objects.get(pk=dispute.pk).legal_hold_id == hold.pk
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=dispute, actor=officer)
    dispute.refresh_from_db()
    assert dispute.status == Status.WAITING_HOLD_RELEASE and dispute.completed_at is None
    certificate = ErasureCertificate.objects.get(pk=dispute.erasure_certificate_id)
    assert certificate.kept_count > 0 and not certificate.key_destroyed
    assert inv.ContactPoint.objects.filter(subject=alice).exists()
    assert "kept where the law requires it" in dispute.outcome_note
    assert "Your personal data was erased" not in dispute.outcome_note
    assert "Art. 17(3)(e)" in dispute.outcome_note
    assert "erasure_confirmation" not in outbox.kinds()  # no "we have deleted your information" yet
    partial = outbox.last("erasure_partial")
    kept = partial["context"]["kept_records"]
    assert kept and all("Art. 17(3)(e)" in k["reason"] for k in kept)
    assert partial["context"]["erased_count"] == certificate.erased_count
    event = dispute.events.get(kind="erasure")
    assert event.details["kept"] and event.details["key_destroyed"] is False


@pytest.mark.django_db
def test_releasing_the_hold_runs_the_deferred_erasure_then_completes_with_the_final_notice(
    officer, outbox, django_capture_on_commit_callbacks
):
    alice = make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com")
    services.request_legal_hold_place(case=case, reason="Pending litigation", actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.WAITING_HOLD_RELEASE
    with django_capture_on_commit_callbacks(execute=True):  # the release queues the resumption task
        services.request_legal_hold_release(case=case, reason="Settled", actor=officer)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert not inv.ContactPoint.objects.filter(subject=alice).exists()
    final = ErasureCertificate.objects.get(pk=case.erasure_certificate_id)
    assert final.kept_count == 0 and final.key_destroyed
    confirmation = outbox.last("erasure_confirmation")
    assert confirmation["context"]["kept_records"] == []
    assert confirmation["to_email"] == "alice@example.com"
    assert case.outcome_note.startswith("Your personal data was erased")


@pytest.mark.django_db
def test_a_hold_released_in_the_retention_admin_also_resumes_the_waiting_erasure(
    client, officer, django_capture_on_commit_callbacks
):
    make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com")
    hold = services.request_legal_hold_place(case=case, reason="Pending litigation", actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    client.force_login(officer)
    page = client.get(f"/admin/requests_app/privacyrequest/{case.pk}/change/").content.decode()
    assert "Waiting for hold release" in page
    from retention.services import legal_hold_release

    with django_capture_on_commit_callbacks(execute=True):
        legal_hold_release(hold_id=hold.pk, reason="Litigation over", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED


@pytest.mark.django_db
def test_a_ccpa_requester_reads_the_california_exception_for_what_was_kept(
    officer, outbox, django_capture_on_commit_callbacks
):
    make_full_subject(email="carol@example.com")
    case = _verified(officer, "carol@example.com", regime=Regime.CCPA)
    services.request_legal_hold_place(case=case, reason="Tax audit", actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    kept = outbox.last("erasure_partial")["context"]["kept_records"]
    assert all("§1798.145(a)(1)(E)" in k["reason"] for k in kept)


@pytest.mark.django_db
def test_minors_data_is_erased_on_confirmation(officer, outbox, django_capture_on_commit_callbacks):
    child = make_full_subject(email="kid@example.com", is_minor=True)
    case = make_case(
        request_type=RequestType.MINOR_DELETION,
        regime=Regime.COPPA,
        subject_email="kid@example.com",
        requester_kind=RequesterKind.PARENT,
        requester_name="Pat Parent",
        requester_email="parent@example.com",
    )
    services.request_verify_manually(
        case=case, method="phone", level="basic", reason="Parent called", actor=officer
    )
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.VERIFYING  # authority still missing
    with django_capture_on_commit_callbacks(execute=True):
        services.request_verify_authority(case=case, document="Birth certificate seen", actor=officer)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert ErasureCertificate.objects.get(pk=case.erasure_certificate_id).minor is True
    assert not inv.ContactPoint.objects.filter(subject=child).exists()
    assert outbox.last("erasure_confirmation")["to_email"] == "parent@example.com"


@pytest.mark.django_db
def test_erasure_tells_every_recipient_art_19_with_identifiers_captured_before(
    officer, outbox, django_capture_on_commit_callbacks
):
    provider = ThirdPartyFactory(kind="service_provider", privacy_contact_email="dpo@host.example")
    system = inv.System.objects.create(
        code="host", name="Host", kind="external", owner="IT", provider=provider
    )
    alice = make_full_subject(email="alice@example.com", name="Alice Liddell")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "page_view", "system": system})
    case = _verified(officer, "alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    row = RecipientNotification.objects.get(case=case, third_party=provider)
    assert (row.action, row.state, row.sealed_identifiers) == ("erasure", "sent", "")
    notice = outbox.last("recipient_notification")
    assert notice["to_email"] == "dpo@host.example"
    assert "alice@example.com" in notice["context"]["subject_identifiers"]


@pytest.mark.django_db
def test_case_page_links_the_erasure_certificate(client, officer, django_capture_on_commit_callbacks):
    make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    case.refresh_from_db()
    client.force_login(officer)
    page = client.get(f"/admin/requests_app/privacyrequest/{case.pk}/change/").content.decode()
    assert f"/admin/retention/erasurecertificate/{case.erasure_certificate_id}/change/" in page


@pytest.mark.django_db
def test_releasing_the_cases_hold_lets_a_later_erasure_through(officer, django_capture_on_commit_callbacks):
    alice = make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com")
    services.request_legal_hold_place(case=case, reason="Dispute about the request", actor=officer)
    with pytest.raises(ValidationError):
        services.request_legal_hold_release(case=case, reason="", actor=officer)
    assert services.request_legal_hold_release(case=case, reason="Settled", actor=officer) == 1
    assert PrivacyRequest.objects.get(pk=case.pk).legal_hold_id is None
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    assert not inv.ContactPoint.objects.filter(subject=alice).exists()
    with pytest.raises(ValidationError, match="no legal hold"):
        services.request_legal_hold_release(case=case, reason="again", actor=officer)


@pytest.mark.django_db
def test_a_subject_whose_erasure_kept_held_data_stays_in_breach_scope(
    officer, django_capture_on_commit_callbacks
):
    """Issue 14 item 7: retained data can be breached; only a subject erased in full leaves the scope."""
    from notices.selectors import breach_affected_subjects

    held = make_full_subject(email="held@example.com")
    gone = make_full_subject(email="gone@example.com")
    held_case = _verified(officer, "held@example.com")
    services.request_legal_hold_place(case=held_case, reason="Pending litigation", actor=officer)
    gone_case = _verified(officer, "gone@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=held_case, actor=officer)
        services.request_fulfil(case=gone_case, actor=officer)
    held.refresh_from_db()
    assert held.erased_at is not None  # the erasure ran, partly
    scope = set(breach_affected_subjects({"subject_ids": [held.pk, gone.pk]}).values_list("pk", flat=True))
    assert scope == {held.pk}


@pytest.mark.django_db
def test_a_recipients_notice_keeps_the_subject_link_so_the_erasure_scrubs_it_after_delivery(
    officer, django_capture_on_commit_callbacks
):
    """Issue 14 item 10: the Art. 19 notice names the person; after delivery it keeps no plaintext."""
    from notices.models import Notice

    provider = ThirdPartyFactory(kind="service_provider", privacy_contact_email="dpo@host.example")
    system = inv.System.objects.create(
        code="host", name="Host", kind="external", owner="IT", provider=provider
    )
    alice = make_full_subject(email="alice@example.com", name="Alice Liddell")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "page_view", "system": system})
    case = _verified(officer, "alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    notice = Notice.objects.get(kind="recipient_notification")
    assert notice.subject_id == alice.pk
    assert notice.status == "sent"
    assert notice.body_text is None and notice.body_html is None
    assert notice.to_email != "dpo@host.example" and len(notice.to_email) == 64  # keyed hash


@pytest.mark.django_db
def test_the_officer_releases_the_hold_from_the_case_page_and_the_waiting_erasure_completes(
    client, officer, outbox, django_capture_on_commit_callbacks
):
    """Issue 14 item 5 through the admin: the case page shows the waiting state; its "Release legal hold"
    button runs the deferred erasure and completes the case with the final notice."""
    alice = make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com")
    services.request_legal_hold_place(case=case, reason="Pending litigation", actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    client.force_login(officer)
    page = client.get(f"/admin/requests_app/privacyrequest/{case.pk}/change/").content.decode()
    assert "Waiting for hold release" in page and "Release legal hold" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/requests_app/privacyrequest/{case.pk}/act/release/", {"reason": "Settled"})
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.COMPLETED
    assert not inv.ContactPoint.objects.filter(subject=alice).exists()
    assert outbox.last("erasure_confirmation")["context"]["kept_records"] == []
