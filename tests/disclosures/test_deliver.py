"""notice_1798_83_deliver: the contract the DSAR case calls, through the notices outbox."""

from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from disclosures import services
from disclosures.models import DisclosureNoticeRequest
from disclosures.notice import NoticeContent

from .factories import MarketingPartnerFactory, customers, log

pytestmark = pytest.mark.django_db


def test_delivering_records_what_was_said_and_hands_the_notice_to_the_outbox(outbox):
    (alice,) = customers(1)
    partner = MarketingPartnerFactory()
    log(alice, partner, "email", "telephone_number")

    notice = services.notice_1798_83_deliver(
        subject_id=alice.pk, year=2025, case_reference="CASE-1", actor="officer"
    )

    assert notice.kind == "notice_1798_83_delivered" and notice.subject_id == alice.pk
    request = DisclosureNoticeRequest.objects.get()
    assert request.notice_id == notice.pk and request.year == 2025 and request.case_reference == "CASE-1"
    stated = NoticeContent.from_statement(request.statement)
    assert stated.categories == ("email", "telephone_number")
    assert [r.third_party_id for r in stated.recipients] == [partner.pk]
    assert stated.reference == str(request.public_id)
    context = notice.context
    assert context["year"] == 2025 and context["recipients"][0]["name"] == partner.legal_name
    assert "  - Email" in context["notice_text"] and context["pdf_url"].startswith("http")
    assert context["recipients"][0]["address"] == partner.postal_address
    event = AuditEvent.objects.get(action="disclosures.notice_delivered")
    assert event.subject_id == alice.pk and event.details["recipient_ids"] == [partner.pk]


def test_the_notice_context_and_audit_hold_no_personal_data_of_the_customer(outbox):
    (bob,) = customers(
        1, name="Robert Unique-Name", email="robert.unique@example.com", phone="+1 415 555 0199"
    )
    log(bob, MarketingPartnerFactory(), "email")
    notice = services.notice_1798_83_deliver(subject_id=bob.pk, year=2025)
    blob = repr(notice.context) + repr(list(AuditEvent.objects.values_list("details", flat=True)))
    blob += repr(DisclosureNoticeRequest.objects.get().statement)
    for secret in ("Robert", "Unique-Name", "robert.unique", "555 0199"):
        assert secret not in blob


def test_the_same_case_delivered_twice_returns_the_same_notice(outbox):
    (carol,) = customers(1)
    first = services.notice_1798_83_deliver(subject_id=carol.pk, year=2025, case_reference="CASE-7")
    again = services.notice_1798_83_deliver(subject_id=carol.pk, year=2025, case_reference="CASE-7")
    assert first is again and len(outbox.notices) == 1
    assert DisclosureNoticeRequest.objects.count() == 1


def test_erased_customers_and_impossible_years_are_refused(outbox):
    dave, erin = customers(2)
    dave.erased_at = timezone.now()
    dave.save()
    with pytest.raises(ValidationError, match="erased"):
        services.notice_1798_83_deliver(subject_id=dave.pk, year=2025)
    with pytest.raises(ValidationError, match="not 2999"):
        services.notice_1798_83_deliver(subject_id=erin.pk, year=2999)
    assert not DisclosureNoticeRequest.objects.exists()


def test_a_customer_the_outbox_cant_reach_gets_nothing_recorded(django_capture_on_commit_callbacks):
    """The outbox refuses a customer without an email address: the notice request is not recorded."""
    (fred,) = customers(1, email="")
    with pytest.raises(ValidationError, match="no email address"):
        services.notice_1798_83_deliver(subject_id=fred.pk, year=2025)
    assert not DisclosureNoticeRequest.objects.exists()


def test_the_signed_link_shows_the_notice_as_sent_refuses_forgeries_and_writes_nothing(client, outbox):
    (gina,) = customers(1)
    partner = MarketingPartnerFactory(legal_name="Linked Partner Inc.")
    log(gina, partner, "email")
    notice = services.notice_1798_83_deliver(subject_id=gina.pk, year=2025)
    html_path = urlsplit(notice.context["notice_url"]).path
    page = client.get(html_path)
    assert page.status_code == 200 and b"Linked Partner Inc." in page.content
    assert page["Cache-Control"] == "private, no-store"
    pdf = client.get(urlsplit(notice.context["pdf_url"]).path)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    forged = reverse("disclosures:notice", kwargs={"token": "x" + html_path.split("/")[3], "fmt": "html"})
    assert client.get(forged).status_code == 404
    # Two GETs of the link (as a mail scanner would) write nothing: a GET has no side effects.
    assert AuditEvent.objects.filter(action="disclosures.notice_viewed", subject_id=gina.pk).count() == 0


def test_delivery_goes_through_the_real_notices_outbox(django_capture_on_commit_callbacks, mailoutbox):
    """End to end with the notices app: the email carries the notice in the standard layout."""
    (hank,) = customers(1)
    log(hank, MarketingPartnerFactory(legal_name="Outbox Partner Inc."), "email", "telephone_number")
    with django_capture_on_commit_callbacks(execute=True):
        notice = services.notice_1798_83_deliver(subject_id=hank.pk, year=2025, case_reference="CASE-R")
    assert notice.kind == "notice_1798_83_delivered" and notice.to_email == hank.email
    assert DisclosureNoticeRequest.objects.get().notice_id == notice.pk
    assert "Outbox Partner Inc." in notice.body_text and "Telephone number" in notice.body_text
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [hank.email]
    assert "Outbox Partner Inc." in mailoutbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        again = services.notice_1798_83_deliver(subject_id=hank.pk, year=2025, case_reference="CASE-R")
    assert again.pk == notice.pk
