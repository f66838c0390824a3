"""The consent admin: read-only evidence, per-subject history, receipts, CSV import; query counts pinned."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from consent.models import ConsentEvent, SuppressedAddress
from tests.consent.factories import grant, published_policy
from tests.factories import DataSubjectFactory


def _user_in(role: str) -> Client:
    user = User.objects.create_user(role.lower().replace(" ", "-"), password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def officer():
    return _user_in("Privacy officer")


@pytest.mark.django_db
def test_the_ledger_is_read_only_in_the_admin_even_for_superusers(admin_client):
    event = grant(DataSubjectFactory())
    assert admin_client.get(reverse("admin:consent_consentevent_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:consent_consentevent_change", args=[event.pk]), {"action": "withdraw"}
    )
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:consent_consentevent_delete", args=[event.pk])).status_code == 403
    event.refresh_from_db()
    assert event.action == "grant"


@pytest.mark.django_db
def test_evidence_is_shown_decrypted_only_with_the_reveal_permission():
    event = grant(DataSubjectFactory())
    url = reverse("admin:consent_consentevent_change", args=[event.pk])
    analyst = _user_in("Analyst")
    assert b"203.0.113.0/24" not in analyst.get(url).content
    officer = _user_in("Privacy officer")
    assert b"203.0.113.0/24" in officer.get(url).content


@pytest.mark.django_db
def test_subject_history_shows_current_state_and_ledger_and_records_an_officers_entry(officer):
    subject = DataSubjectFactory()
    grant(subject, "marketing_email")
    url = reverse("admin:consent_subject_history", args=[subject.public_id])
    page = officer.get(url)
    assert page.status_code == 200
    assert b"Marketing emails" in page.content and b"granted" in page.content
    response = officer.post(
        url, {"purpose": "marketing_email", "action": "withdraw", "channel": "phone", "note": "call 17"}
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(subject=subject).order_by("-pk").first()
    assert (event.action, event.channel, event.actor_label) == ("withdraw", "phone", "privacy-officer")


@pytest.mark.django_db
def test_receipt_download_from_the_admin(officer):
    event = grant(DataSubjectFactory())
    response = officer.get(reverse("admin:consent_consentevent_receipt", args=[event.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="consent-receipt-{event.public_id}.json"'
    assert response.json()["consentReceiptID"] == str(event.public_id)


@pytest.mark.django_db
def test_admin_import_reports_bad_lines_and_writes_nothing(officer):
    content = b"email,purpose,action,at\na@example.com,marketing_email,grant,2021-01-01\nb@example.com,nope,grant,2021-01-01\n"
    response = officer.post(
        reverse("admin:consent_consentevent_import"),
        {"file": SimpleUploadedFile("list.csv", content, "text/csv"), "create_missing_subjects": "on"},
    )
    assert response.status_code == 200
    assert b"nothing was imported" in response.content and b"<td>3</td>" in response.content
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_admin_import_of_a_good_file(officer):
    content = b"email,purpose,action,at\na@example.com,marketing_email,grant,2021-01-01\n"
    response = officer.post(
        reverse("admin:consent_consentevent_import"),
        {"file": SimpleUploadedFile("list.csv", content, "text/csv"), "create_missing_subjects": "on"},
    )
    assert b"Imported:" in response.content
    assert ConsentEvent.objects.count() == 1


@pytest.mark.django_db
def test_analysts_may_not_import_or_publish():
    analyst = _user_in("Analyst")
    assert analyst.get(reverse("admin:consent_consentevent_import")).status_code == 403
    policy = published_policy()
    assert analyst.get(reverse("admin:consent_policyversion_publish", args=[policy.pk])).status_code == 403


@pytest.mark.django_db
def test_officer_suppresses_an_address_without_it_being_stored(officer):
    response = officer.post(reverse("admin:consent_suppressedaddress_add"), {"email": "NoMore@example.com"})
    assert response.status_code == 302
    assert SuppressedAddress.objects.count() == 4  # every marketing purpose
    assert not SuppressedAddress.objects.filter(email_hmac__icontains="nomore").exists()
    found = officer.get(reverse("admin:consent_suppressedaddress_changelist") + "?q=nomore@example.com")
    assert found.context["cl"].result_count == 4


@pytest.mark.django_db
def test_policy_versions_are_added_and_published_from_the_admin(officer, django_capture_on_commit_callbacks):
    response = officer.post(
        reverse("admin:consent_policyversion_add"),
        {"version": "2026-10", "effective_on": "2026-10-01", "url": "", "summary": "", "text": "Policy text"},
    )
    assert response.status_code == 302
    from consent.models import PolicyVersion

    policy = PolicyVersion.objects.get(version="2026-10")
    assert len(policy.sha256) == 64
    officer.post(reverse("admin:consent_policyversion_publish", args=[policy.pk]), {"notify_audience": ""})
    policy.refresh_from_db()
    assert policy.is_published
    change = officer.post(
        reverse("admin:consent_policyversion_change", args=[policy.pk]), {"text": "changed"}
    )
    assert change.status_code == 403
