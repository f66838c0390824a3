"""Consent receipts follow the Kantara Consent Receipt v1.1 fields and name the subject by public UUID only."""

import json

import pytest

from consent.receipts import SPEC_VERSION, consent_receipt
from tests.consent.factories import grant, published_policy, withdraw
from tests.factories import DataSubjectFactory

KANTARA_FIELDS = {
    "version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID", "language",
    "piiPrincipalId", "piiControllers", "policyUrl", "services", "sensitive", "spiCat",
}  # fmt: skip


@pytest.mark.django_db
def test_receipt_has_the_kantara_fields_and_never_the_email():
    subject = DataSubjectFactory(email="receipt.person@example.com", name="Receipt Person")
    policy = published_policy(version="2026-04")
    event = grant(subject, "marketing_email", policy_version="2026-04")
    receipt = consent_receipt(event)
    assert set(receipt) >= KANTARA_FIELDS
    assert receipt["version"] == SPEC_VERSION
    assert receipt["piiPrincipalId"] == str(subject.public_id)
    assert receipt["consentReceiptID"] == str(event.public_id)
    assert receipt["consentTimestamp"] == int(event.at.timestamp())
    assert receipt["policyUrl"] == policy.url
    assert receipt["privacyops"]["policySha256"] == policy.sha256
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["purposeCategory"] == ["6 - Marketing"] and purpose["consentType"] == "EXPLICIT"
    assert set(purpose["piiCategory"]) == {"Personal contact information", "Marketing preferences"}
    assert receipt["piiControllers"][0]["piiController"] == "SYSPRO USA"
    text = json.dumps(receipt)
    assert "receipt.person" not in text and "Receipt Person" not in text and "203.0.113" not in text


@pytest.mark.django_db
def test_a_withdrawal_receipt_says_so():
    subject = DataSubjectFactory()
    grant(subject)
    event = withdraw(subject)
    assert consent_receipt(event)["privacyops"]["withdrawn"] is True
    assert consent_receipt(event)["collectionMethod"] == "Email unsubscribe link"


@pytest.mark.django_db
def test_the_receipt_names_the_controller_from_the_organisation_setting(settings):
    settings.ORGANISATION = {"name": "Example Controller Ltd", "privacy_email": "dpo@example.org"}
    subject = DataSubjectFactory()
    controller = consent_receipt(grant(subject))["piiControllers"][0]
    assert controller["piiController"] == "Example Controller Ltd"
    assert controller["email"] == "dpo@example.org"
    assert controller["address"]["addressLocality"] == "Costa Mesa"  # the rest keeps the policy's values
