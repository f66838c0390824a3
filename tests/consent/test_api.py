"""The consent API: bulk recording is all-or-nothing and idempotent; state and receipts read by public UUID."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consent.models import ConsentEvent, ConsentState
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

URL = "/api/consent/events/"


def _system_client(*perms: str) -> APIClient:
    user = User.objects.create_user("website", password="x" * 16)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def website():
    return _system_client("consent.record_consent", "consent.view_consentstate", "consent.view_consentevent")


def _event(who, n, **overrides):
    return {
        "client_event_id": f"banner-{n}",
        "subject": str(who.public_id),
        "purpose": "analytics_cookies",
        "action": "grant",
        "at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
        "channel": "cookie_banner",
        "evidence": {"banner_id": "cookie-v3", "ip": "203.0.113.8", "user_agent": "Mozilla/5.0"},
        **overrides,
    }


@pytest.mark.django_db
def test_bulk_api_records_events_with_token_auth_and_returns_receipt_ids(website):
    a, b = DataSubjectFactory(), DataSubjectFactory()
    response = website.post(URL, {"events": [_event(a, 1), _event(b, 2, action="withdraw")]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"]) == (2, 0)
    receipt_ids = {r["receipt_id"] for r in body["results"]}
    assert receipt_ids == {str(e.public_id) for e in ConsentEvent.objects.all()}
    assert ConsentEvent.objects.get(subject=a).source == "api:website"


@pytest.mark.django_db
def test_bulk_api_is_idempotent_by_client_event_id(website):
    subject = DataSubjectFactory()
    payload = {"events": [_event(subject, 1), _event(subject, 2, action="withdraw")]}
    first = website.post(URL, payload, format="json").json()
    state_after_first = list(
        ConsentState.objects.values_list("subject_id", "purpose_id", "action", "event_id")
    )
    second = website.post(URL, payload, format="json")
    assert second.status_code == 200
    assert (second.json()["created"], second.json()["duplicates"]) == (0, 2)
    assert [r["receipt_id"] for r in second.json()["results"]] == [r["receipt_id"] for r in first["results"]]
    assert ConsentEvent.objects.count() == 2
    assert (
        list(ConsentState.objects.values_list("subject_id", "purpose_id", "action", "event_id"))
        == state_after_first
    )


@pytest.mark.django_db
def test_a_reused_client_event_id_for_a_different_event_is_refused(website):
    subject = DataSubjectFactory()
    website.post(URL, {"events": [_event(subject, 1)]}, format="json")
    response = website.post(URL, {"events": [_event(subject, 1, action="withdraw")]}, format="json")
    assert response.status_code == 400
    assert "already used for a different event" in response.json()["errors"][0]["errors"][0]


@pytest.mark.django_db
def test_one_bad_item_rejects_the_batch_and_every_bad_item_is_reported(website):
    subject = DataSubjectFactory()
    events = [
        _event(subject, 1),
        _event(subject, 2, purpose="no_such_purpose"),
        _event(subject, 3, subject="00000000-0000-0000-0000-000000000000"),
        _event(subject, 4, at=(timezone.now() + dt.timedelta(days=1)).isoformat()),
        _event(subject, 5, evidence={"email": "someone@example.com"}),
        _event(subject, 6, purpose="transactional", action="withdraw"),
        "not an object",
    ]
    response = website.post(URL, {"events": events}, format="json")
    assert response.status_code == 400
    errors = {e["index"]: " ".join(e["errors"]) for e in response.json()["errors"]}
    assert set(errors) == {1, 2, 3, 4, 5, 6}
    assert "Unknown purpose" in errors[1]
    assert "Unknown data subject" in errors[2]
    assert "future" in errors[3]
    assert "unknown keys" in errors[4] and "someone@example.com" not in errors[4]
    assert "required" in errors[5]
    assert ConsentEvent.objects.count() == 0 and ConsentState.objects.count() == 0


@pytest.mark.django_db
def test_one_malformed_item_keeps_the_valid_ones_from_being_written(website):
    subject = DataSubjectFactory()
    events = [_event(subject, 1), _event(subject, 2), {"client_event_id": "x"}]
    response = website.post(URL, {"events": events}, format="json")
    assert response.status_code == 400
    assert [e["index"] for e in response.json()["errors"]] == [2]
    assert ConsentEvent.objects.count() == 0 and ConsentState.objects.count() == 0


@pytest.mark.django_db
def test_validate_only_checks_without_writing():
    from consent.services import ConsentEventInput, consent_events_record_bulk

    subject = DataSubjectFactory()
    item = ConsentEventInput(subject_id=subject.pk, purpose="surveys", action="grant", channel="api")
    assert consent_events_record_bulk(events=[item], source="t", validate_only=True).created == 0
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_systems_without_the_record_permission_or_a_token_are_refused():
    subject = DataSubjectFactory()
    reader = _system_client("consent.view_consentstate")
    assert reader.post(URL, {"events": [_event(subject, 1)]}, format="json").status_code == 403
    assert APIClient().post(URL, {"events": [_event(subject, 1)]}, format="json").status_code in (401, 403)
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_current_state_of_a_subject_is_read_by_public_uuid(website):
    subject = DataSubjectFactory()
    event = grant(subject, "marketing_email")
    body = website.get(f"/api/consent/subjects/{subject.public_id}/").json()
    by_purpose = {p["purpose"]: p for p in body["purposes"]}
    assert by_purpose["marketing_email"]["status"] == "granted"
    assert by_purpose["marketing_email"]["receipt_id"] == str(event.public_id)
    assert by_purpose["marketing_phone"]["status"] == "none"
    assert by_purpose["transactional"]["status"] == "required" and by_purpose["transactional"]["may_process"]
    assert website.get("/api/consent/subjects/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_subject_history_and_receipts_are_served(website):
    subject = DataSubjectFactory()
    event = grant(subject)
    history = website.get(f"/api/consent/subjects/{subject.public_id}/events/").json()
    assert [e["receipt_id"] for e in history["results"]] == [str(event.public_id)]
    receipt = website.get(f"/api/consent/receipts/{event.public_id}/").json()
    assert receipt["consentReceiptID"] == str(event.public_id)
    download = website.get(f"/api/consent/receipts/{event.public_id}/?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_openapi_schema_describes_the_consent_endpoints(admin_client):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/consent/events/" in response.content
