"""API for other systems: token auth, validation, idempotency by external id, OpenAPI documented."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from disclosures import integrations, services
from disclosures.models import DisclosureBatch, DisclosureEvent

from .factories import MarketingPartnerFactory, customers

pytestmark = pytest.mark.django_db

URL = "/api/disclosures/batches/"


def _client(*perms: str) -> APIClient:
    user = User.objects.create_user(username=f"crm-{len(perms)}-{User.objects.count()}", password="x" * 16)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def crm():
    return _client("disclosures.log_disclosures", "disclosures.view_disclosurebatch")


@pytest.fixture
def payload():
    people = customers(3)
    return {
        "external_id": "crm-share-2025-03",
        "third_party": MarketingPartnerFactory().pk,
        "purpose": "direct_marketing",
        "disclosed_at": "2025-03-01T10:00:00Z",
        "agreement_reference": "MSA-17",
        "data_categories": {"contact": ["email", "name"]},
        "subjects": [str(p.public_id) for p in people],
    }


def test_logging_a_batch_over_the_api_records_it_once(crm, payload):
    created = crm.post(URL, payload, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["member_count"] == 3 and body["statutory_categories"] == ["name_and_address", "email"]
    assert body["external_id"] == "crm-share-2025-03" and body["excluded_subjects"] == []
    again = crm.post(URL, {**payload, "subjects": list(reversed(payload["subjects"]))}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert DisclosureBatch.objects.count() == 1 and DisclosureEvent.objects.count() == 3
    assert DisclosureBatch.objects.get().source == "api"
    fetched = crm.get(f"{URL}{body['id']}/")
    assert fetched.status_code == 200 and fetched.json()["member_count"] == 3


def test_a_different_payload_under_the_same_external_id_is_a_conflict(crm, payload):
    assert crm.post(URL, payload, format="json").status_code == 201
    conflict = crm.post(URL, {**payload, "subjects": payload["subjects"][:1]}, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "external_id_conflict"


def test_invalid_input_is_refused_with_reasons(crm, payload):
    assert crm.post(URL, {**payload, "subjects": ["not-a-uuid"]}, format="json").status_code == 400
    assert crm.post(URL, {**payload, "purpose": "resale"}, format="json").status_code == 400
    no_categories = {**payload, "data_categories": {}}
    assert crm.post(URL, no_categories, format="json").status_code == 400
    bad_field = crm.post(URL, {**payload, "data_categories": {"contact": ["shoe_size"]}}, format="json")
    assert bad_field.status_code == 400 and "shoe_size" in bad_field.json()["detail"][0]
    unknown = crm.post(URL, {**payload, "subjects": ["00000000-0000-4000-8000-000000000000"]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_subjects"
    assert not DisclosureBatch.objects.exists()


def test_opted_out_subjects_are_named_back_to_the_caller(crm, payload, monkeypatch):
    services.disclosure_settings_update(opt_out_route_enabled=True, actor="test")
    from inventory.models import DataSubject

    opted_out = DataSubject.objects.get(public_id=payload["subjects"][1])
    monkeypatch.setattr(
        integrations, "subjects_opted_out_of_partner_sharing", lambda ids, at=None: {opted_out.pk}
    )
    refused = crm.post(URL, payload, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "opted_out"
    assert refused.json()["opted_out_subjects"] == [str(opted_out.public_id)]
    excluded = crm.post(URL, {**payload, "exclude_opted_out": True}, format="json")
    assert excluded.status_code == 201 and excluded.json()["excluded_subjects"] == [str(opted_out.public_id)]
    assert excluded.json()["member_count"] == 2


def test_the_api_needs_a_token_and_the_permission(payload):
    assert APIClient().post(URL, payload, format="json").status_code == 401
    reader = _client("disclosures.view_disclosurebatch")
    assert reader.post(URL, payload, format="json").status_code == 403
    assert reader.get(URL).status_code == 200
    assert _client().get(URL).status_code == 403


def test_categories_and_requirement_are_published(crm):
    page = crm.get("/api/disclosures/categories/").json()
    categories = page["results"]
    assert page["count"] == len(categories) == 27 and categories[1]["code"] == "email"
    assert "contact.email" in categories[1]["mapped_from"]
    services.disclosure_settings_update(employee_count=8, actor="test")
    need = crm.get("/api/disclosures/requirement/").json()
    assert need["required"] is False and "fewer than 20" in need["reason"]


def test_the_api_is_documented_in_the_openapi_schema(admin_client):
    schema = admin_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/disclosures/batches/",
        "/api/disclosures/batches/{id}/",
        "/api/disclosures/categories/",
    } <= set(paths)
    post = paths["/api/disclosures/batches/"]["post"]
    assert {"201", "200", "400", "409"} <= set(post["responses"])
    assert "external_id" in post["description"]
