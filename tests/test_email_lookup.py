"""Officers work from an email address (issue 16): wherever a person is looked up, an address typed in any
case and with stray spaces finds that person's rows, and only theirs."""

import pytest
from django.urls import reverse

from consent.services import consent_grant, consent_withdraw
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import DataSubjectFactory

pytestmark = pytest.mark.django_db

TYPED = "  Bob.Smith@EXAMPLE.com "


@pytest.fixture
def bob_and_ann():
    bob = DataSubjectFactory(email="bob.smith@example.com")
    ann = DataSubjectFactory(email="ann@example.com")
    for person in (bob, ann):
        consent_grant(subject_id=person.pk, purpose="marketing_email", channel="web_form")
    consent_withdraw(subject_id=bob.pk, purpose="marketing_email", channel="email_link")
    partner = MarketingPartnerFactory()
    log([bob, ann], partner, "email")
    return bob, ann


def _results(admin_client, name: str) -> int:
    response = admin_client.get(reverse(f"admin:{name}_changelist"), {"q": TYPED})
    assert response.status_code == 200
    return response.context["cl"].result_count


def test_consent_states_and_events_are_found_by_email(admin_client, bob_and_ann):
    assert _results(admin_client, "consent_consentstate") == 1
    assert _results(admin_client, "consent_consentevent") == 2  # bob's grant and withdrawal, none of ann's


def test_disclosure_events_are_found_by_email(admin_client, bob_and_ann):
    assert _results(admin_client, "disclosures_disclosureevent") == 1


def test_the_outbox_is_found_by_email(admin_client, bob_and_ann):
    bob, _ = bob_and_ann
    from notices.models import Notice

    expected = Notice.objects.filter(subject=bob).count()
    assert expected and _results(admin_client, "notices_notice") == expected


def test_the_notice_preview_accepts_an_email(admin_client, bob_and_ann):
    response = admin_client.get(
        reverse("admin:disclosures_notice_preview"), {"subject": TYPED, "year": 2025, "format": "html"}
    )
    assert response.status_code == 200
    assert b"Enter a valid UUID" not in response.content
    assert response["Content-Type"].startswith("text/html") and b"<form" not in response.content


def test_the_notice_preview_says_when_no_customer_has_the_address(admin_client, bob_and_ann):
    response = admin_client.get(
        reverse("admin:disclosures_notice_preview"),
        {"subject": "nobody@example.com", "year": 2025, "format": "html"},
    )
    assert "No customer has this email address or public id." in response.content.decode()


def test_consent_history_links_to_the_subject_page(admin_client, bob_and_ann):
    bob, _ = bob_and_ann
    page = admin_client.get(reverse("admin:consent_subject_history", args=[bob.public_id])).content.decode()
    assert reverse("admin:inventory_datasubject_change", args=[bob.pk]) in page
