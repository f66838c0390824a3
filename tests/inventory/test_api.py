"""The read-only inventory API: staff with view permission only, public UUIDs only, sealed by default."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from inventory import models as inv
from inventory.registry import registry
from inventory.services import record_create
from tests.factories import DataSubjectFactory, make_full_subject

from .factories import full_subject_with_records, make_user

SUBJECTS = "/api/inventory/subjects/"


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def analyst():
    return make_user("analyst", role="Analyst")


@pytest.fixture
def officer():
    return make_user("officer", role="Privacy officer")


@pytest.mark.django_db
def test_anonymous_requests_are_refused():
    subject = DataSubjectFactory()
    for url in [SUBJECTS, f"{SUBJECTS}{subject.public_id}/", f"{SUBJECTS}{subject.public_id}/records/"]:
        assert _client().get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_non_staff_users_are_refused_even_with_the_view_permission():
    user = make_user("customer", role="Analyst", staff=False)
    assert _client(user).get(SUBJECTS).status_code == 403


@pytest.mark.django_db
def test_staff_without_the_view_permission_are_refused():
    assert _client(make_user("clerk")).get(SUBJECTS).status_code == 403


@pytest.mark.django_db
def test_list_is_paginated_and_never_shows_sequential_ids(analyst):
    for _ in range(3):
        DataSubjectFactory()
    response = _client(analyst).get(SUBJECTS, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert "id" not in first and "date_of_birth" not in first
    assert set(first) >= {"public_id", "name", "email", "country", "region", "jurisdiction", "is_minor"}


@pytest.mark.django_db
def test_lookup_by_public_uuid_works_and_by_sequential_id_does_not(analyst):
    subject = DataSubjectFactory(country="US", region="CA")
    response = _client(analyst).get(f"{SUBJECTS}{subject.public_id}/")
    assert response.status_code == 200
    assert response.json()["public_id"] == str(subject.public_id)
    assert response.json()["jurisdiction"] == "US-CA"
    assert _client(analyst).get(f"{SUBJECTS}{subject.pk}/").status_code == 404


@pytest.mark.django_db
def test_token_authentication_works(settings):
    settings.API_ALLOW_STAFF_TOKENS = True  # the inventory API is for staff; their tokens only when allowed
    user = make_user("robot", role="Auditor")
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(SUBJECTS).status_code == 200


@pytest.mark.django_db
def test_filters_by_normalized_email_country_and_region(analyst):
    jane = DataSubjectFactory(email="Jane.Doe@Example.com", country="US", region="CA")
    hans = DataSubjectFactory(email="hans@example.de", country="DE", region="BY")
    record_create(
        model=inv.ContactPoint, subject=hans, values={"kind": "email", "value": "H.Work@Corp.example"}
    )
    client = _client(analyst)

    def found(**params) -> set[str]:
        return {s["public_id"] for s in client.get(SUBJECTS, params).json()["results"]}

    assert found(email="  jane.doe@EXAMPLE.com ") == {str(jane.public_id)}
    assert found(email="h.work@corp.example") == {str(hans.public_id)}
    assert found(email="doe@example.com") == set()
    assert found(country="de") == {str(hans.public_id)}
    assert found(country="US", region="ca") == {str(jane.public_id)}


@pytest.mark.django_db
def test_records_are_grouped_by_category_with_sealed_fields_withheld(analyst):
    subject = make_full_subject()
    other = make_full_subject()
    response = _client(analyst).get(f"{SUBJECTS}{subject.public_id}/records/")
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == str(subject.public_id) and body["revealed"] is False
    assert {c["code"] for c in body["categories"]} == {e.category for e in registry}
    models = {m["model"]: m for c in body["categories"] for m in c["models"]}
    assert set(models) == {e.label for e in registry}
    account = models["inventory.UserAccount"]["records"][0]
    assert account["fields"]["payment_method_reference"] is None
    assert account["withheld"]["payment_method_reference"] == "encrypted"
    assert models["inventory.SurveyResponse"]["records"][0]["withheld"] == {"answer": "encrypted"}
    assert models["inventory.MarketingPreference"]["records"][0]["fields"]["topics"] == ["erp"]
    assert models["inventory.DataSubject"]["records"][0]["id"] == str(subject.public_id)  # not the pk
    text = response.content.decode()
    assert f"tok_{subject.pk}" not in text and "Inventory counts" not in text and "1980-05-17" not in text
    assert f"alt.{other.email}" not in text and "subject_id" not in text


@pytest.mark.django_db
def test_revealing_needs_the_permission(analyst):
    subject = make_full_subject()
    response = _client(analyst).get(f"{SUBJECTS}{subject.public_id}/records/", {"reveal": "true"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="sensitive.revealed").exists()


@pytest.mark.django_db
def test_an_officer_may_reveal_and_the_reveal_is_audited(officer):
    subject = make_full_subject()
    response = _client(officer).get(f"{SUBJECTS}{subject.public_id}/records/", {"reveal": "true"})
    assert response.status_code == 200
    body = response.json()
    assert body["revealed"] is True
    models = {m["model"]: m for c in body["categories"] for m in c["models"]}
    assert models["inventory.UserAccount"]["records"][0]["fields"]["payment_method_reference"] == (
        f"tok_{subject.pk}_visa"
    )
    assert models["inventory.DataSubject"]["records"][0]["fields"]["date_of_birth"] == "1980-05-17"
    event = AuditEvent.objects.get(action="sensitive.revealed")
    assert event.details["channel"] == "api" and event.actor_label == "officer"


@pytest.mark.django_db
def test_records_limit_marks_truncated_lists(analyst):
    subject = full_subject_with_records(4)
    body = _client(analyst).get(f"{SUBJECTS}{subject.public_id}/records/", {"limit": 2}).json()
    events = next(
        m for c in body["categories"] for m in c["models"] if m["model"] == "inventory.ActivityEvent"
    )
    assert len(events["records"]) == 2 and events["truncated"] is True
    assert _client(analyst).get(f"{SUBJECTS}{subject.public_id}/records/", {"limit": 0}).status_code == 400


@pytest.mark.django_db
def test_records_query_count_does_not_grow_with_records(analyst):
    few, many = full_subject_with_records(1), full_subject_with_records(5)
    client = _client(analyst)
    client.get(f"{SUBJECTS}{few.public_id}/records/")
    with CaptureQueriesContext(connection) as one_each:
        client.get(f"{SUBJECTS}{few.public_id}/records/")
    with CaptureQueriesContext(connection) as five_each:
        client.get(f"{SUBJECTS}{many.public_id}/records/")
    assert len(five_each) == len(one_each)


@pytest.mark.django_db
def test_categories_list_the_models_holding_them(analyst):
    response = _client(analyst).get("/api/inventory/categories/activity/")
    assert response.status_code == 200
    assert response.json()["held_in"] == ["inventory.ActivityEvent"]


@pytest.mark.django_db
def test_the_openapi_schema_generates_without_warnings_and_is_served(analyst):
    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    schema = out.getvalue()
    assert "/api/inventory/subjects/{public_id}/records/" in schema
    assert "SubjectRecords" in schema
    response = _client(analyst).get("/api/schema/")
    assert response.status_code == 200
