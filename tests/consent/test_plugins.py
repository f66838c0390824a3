"""The consent app plugs into the project: registry, roles, dashboard cards, seeded purposes, the gate."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.utils import timezone

from consent.dashboard import dashboard_cards
from consent.models import ConsentEvent, ConsentState, Purpose, ReconsentRequest, WebDevice
from consent.reference import PURPOSES, WEB_PURPOSES
from inventory.registry import registry
from inventory.selectors import records_for_subject
from privacyops.roles import permission_matrix
from tests.consent.factories import add_consent_records, grant, withdraw
from tests.factories import DataSubjectFactory

CONTRACT_CODES = {
    "marketing_email", "marketing_phone", "analytics_cookies", "advertising_pixels", "surveys",
    "share_marketing_partners", "transactional",
}  # fmt: skip
# Added for the website (issue 18): the banner's strictly necessary cookies, widgets, and the purpose the
# "Limit the Use of My Sensitive Personal Information" page withdraws.
WEB_CODES = {"strictly_necessary", "widgets", "sensitive_pi_use"}
REQUIRED = {"transactional", "strictly_necessary"}


@pytest.mark.django_db
def test_purposes_are_seeded_with_the_contract_codes_and_legal_basis():
    seeded = {p.code: p for p in Purpose.objects.prefetch_related("data_categories")}
    assert set(seeded) == CONTRACT_CODES | WEB_CODES
    assert {row["code"] for row in PURPOSES} == CONTRACT_CODES
    assert {row["code"] for row in WEB_PURPOSES} == WEB_CODES
    assert seeded["transactional"].required and seeded["transactional"].legal_basis == "contract"
    assert seeded["strictly_necessary"].required and seeded["strictly_necessary"].legal_basis != "consent"
    assert {code for code, p in seeded.items() if p.required} == REQUIRED
    assert all(p.legal_basis == "consent" for code, p in seeded.items() if code not in REQUIRED)
    assert seeded["analytics_cookies"].consent_lifetime_days == 395
    assert all(p.data_categories.exists() for p in seeded.values())


def test_every_consent_model_linked_to_a_subject_is_registered():
    for model in (ConsentEvent, ConsentState, ReconsentRequest, WebDevice):
        assert registry.is_covered(model)


@pytest.mark.django_db
def test_add_consent_records_gives_discovery_a_record_in_every_consent_model():
    subject = DataSubjectFactory()
    add_consent_records(subject)
    found = {f.entry.model: f.records for f in records_for_subject(subject)}
    for model in (ConsentEvent, ConsentState, ReconsentRequest):
        assert found[model], model


def test_roles_give_officers_the_writes_and_others_only_views():
    matrix = permission_matrix()
    assert {"consent.record_consent", "consent.import_consent", "consent.publish_policyversion"} <= matrix[
        "Privacy officer"
    ]
    for role in ("Analyst", "Auditor"):
        consent = {p for p in matrix[role] if p.startswith("consent.")}
        assert consent and all(p.split(".")[1].startswith("view_") for p in consent)


@pytest.mark.django_db
def test_dashboard_cards_count_opt_outs_today_and_expiring_consents():
    officer = User.objects.create_superuser("boss", password="x" * 16)
    request = RequestFactory().get("/admin/")
    request.user = officer
    a, b = DataSubjectFactory(), DataSubjectFactory()
    grant(a)
    withdraw(a)
    grant(b, "analytics_cookies", at=timezone.now() - dt.timedelta(days=380))  # expires in 15 days
    cards = {c.title: c for c in dashboard_cards(request)}
    assert cards["Opt-outs today"].value == 1
    assert cards["Consents expiring in 30 days"].value == 1
    assert cards["Subjects to ask again"].value == 0


@pytest.mark.django_db
def test_dashboard_shows_nothing_to_users_without_consent_permissions():
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_user("nobody", password="x" * 16)
    assert dashboard_cards(request) == []
