"""Issue 14 item 4: every erasure leaves keyed-hash suppression entries; nothing re-creates the erased person
with a marketing grant (CSV import, public intake, consent API), and the import page names the lines."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from consent.models import ConsentEvent, SuppressedAddress
from consent.selectors import consent_is_current
from consent.services import consent_grant, consent_import_csv
from consent.suppression import email_hmac
from inventory.models import DataSubject
from retention.services import erase_subject
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

pytestmark = pytest.mark.django_db

LIST = (
    b"email,purpose,action,at\n"
    b"fresh@example.com,marketing_email,grant,2026-01-01\n"
    b"ERASED.PERSON@example.com,marketing_email,grant,2026-01-02\n"
    b"erased.person@example.com,marketing_phone,grant,2026-01-03\n"
)


@pytest.fixture
def erased():
    subject = DataSubjectFactory(email="erased.person@example.com")
    grant(subject, "marketing_email")  # never opted out
    assert erase_subject(subject_id=subject.pk, reason="Customer asked to be forgotten") is not None
    return subject


def test_an_erasure_suppresses_the_address_of_a_subject_who_never_opted_out(erased):
    hashes = set(SuppressedAddress.objects.values_list("email_hmac", flat=True))
    assert email_hmac("erased.person@example.com") in hashes
    assert SuppressedAddress.objects.filter(purpose__code="marketing_email").exists()


def test_a_csv_import_reports_the_erased_persons_lines_as_suppressed_and_creates_nobody(erased):
    report = consent_import_csv(content=LIST, file_name="old-list.csv")
    assert (report.events_created, report.skipped_suppressed) == (1, 2)
    assert report.suppressed_lines == [3, 4]
    assert not DataSubject.objects.filter(email_normalized="erased.person@example.com").exists()


def test_the_import_page_lists_the_suppressed_lines(erased, client):
    officer = User.objects.create_user(username="officer_import", password="x" * 16, is_staff=True)
    officer.groups.add(Group.objects.get(name="Privacy officer"))
    client.force_login(officer)
    response = client.post(
        reverse("admin:consent_consentevent_import"),
        {
            "file": SimpleUploadedFile("old-list.csv", LIST, content_type="text/csv"),
            "create_missing_subjects": "on",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 refused (suppressed address)" in page
    assert "never re-subscribed), lines:" in page and "3, 4." in page


def test_intake_or_the_api_cannot_give_a_recreated_person_a_marketing_grant(erased, client):
    client.post(
        "/requests/new/",
        {
            "request_type": "access",
            "regime": "gdpr",
            "subject_email": "erased.person@example.com",
            "subject_name": "Back Again",
            "subject_phone": "",
            "description": "",
            "requester_kind": "subject",
            "website": "",
        },
    )
    recreated = DataSubject.objects.filter(email_normalized="erased.person@example.com").first()
    newcomer = recreated or DataSubjectFactory(email="erased.person@example.com")
    event = consent_grant(subject_id=newcomer.pk, purpose="marketing_email", channel="api")
    assert (event.action, event.suppressed) == ("withdraw", True)
    assert not consent_is_current(subject_id=newcomer.pk, purpose="marketing_email")
    assert not ConsentEvent.objects.filter(subject=newcomer, action="grant").exists()
