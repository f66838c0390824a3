"""The officers' API: staff with permissions only; cases by UUID; public links show one case only."""

import pytest
from django.contrib.auth.models import Group
from django.core import signing
from rest_framework.test import APIClient

from requests_app import services
from requests_app.models import PrivacyRequest

from .factories import make_case

URL = "/api/requests/cases/"

INTAKE = {
    "request_type": "erasure",
    "regime": "ccpa",
    "channel": "phone",
    "subject_email": "caller@example.com",
    "subject_name": "Caller Person",
    "received_at": "2026-11-20T10:00:00Z",
}


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.django_db
def test_unauthenticated_callers_are_refused(api):
    assert api.get(URL).status_code in (401, 403)
    assert api.post(URL, INTAKE, format="json").status_code in (401, 403)
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_non_staff_users_are_refused_even_with_permissions(api, django_user_model):
    user = django_user_model.objects.create_user(username="customer", password="x" * 16)
    user.groups.add(Group.objects.get(name="Privacy officer"))
    api.force_authenticate(user)
    assert api.get(URL).status_code == 403
    assert api.post(URL, INTAKE, format="json").status_code == 403


@pytest.mark.django_db
def test_staff_without_model_permissions_are_refused(api, django_user_model):
    user = django_user_model.objects.create_user(username="intern", password="x" * 16, is_staff=True)
    api.force_authenticate(user)
    assert api.get(URL).status_code == 403
    assert api.post(URL, INTAKE, format="json").status_code == 403


@pytest.mark.django_db
def test_analysts_read_but_cannot_open_cases(api, django_user_model):
    user = django_user_model.objects.create_user(username="ana", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name="Analyst"))
    api.force_authenticate(user)
    assert api.get(URL).status_code == 200
    assert api.post(URL, INTAKE, format="json").status_code == 403


@pytest.mark.django_db
def test_officer_logs_a_phone_request_with_its_receipt_date(api, officer, outbox):
    api.force_authenticate(officer)
    response = api.post(URL, INTAKE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "verifying"
    assert body["due_on"] == "2027-01-04"  # 45 days from 20 November 2026
    assert body["acknowledge_due_on"] == "2026-12-07"  # 10 business days, Thanksgiving skipped
    case = PrivacyRequest.objects.get(reference=body["reference"])
    assert case.channel == "phone"
    detail = api.get(f"{URL}{body['reference']}/")
    assert detail.status_code == 200
    events = api.get(f"{URL}{body['reference']}/events/").json()
    assert [e["kind"] for e in events][:2] == ["created", "notice"]


@pytest.mark.django_db
def test_api_answers_400_with_officer_readable_messages(api, officer):
    api.force_authenticate(officer)
    response = api.post(URL, {**INTAKE, "request_type": "notice_1798_83"}, format="json")
    assert response.status_code == 400
    assert "1798.83" in str(response.json())


@pytest.mark.django_db
def test_sequential_ids_are_not_addressable(api, officer):
    case = make_case()
    api.force_authenticate(officer)
    assert api.get(f"{URL}{case.pk}/").status_code == 404


@pytest.mark.django_db
def test_one_subjects_status_link_never_shows_another_case(client):
    alice = make_case(subject_email="alice@example.com")
    bob = make_case(subject_email="bob@example.com")
    alice_link = services.status_link(alice)
    page = client.get(alice_link.replace("https://privacy.example.com", ""))
    assert str(alice.reference).encode() in page.content
    assert str(bob.reference).encode() not in page.content
    # swapping the payload for bob's reference breaks the signature
    token = alice_link.rstrip("/").split("/")[-1]
    forged_payload = signing.dumps({"r": str(bob.reference)}, salt="another.salt")
    forged = (
        token.split(":")[0].replace(token.split(":")[0], forged_payload.split(":")[0])
        + ":"
        + token.split(":", 1)[1]
    )
    assert client.get(f"/requests/status/{forged}/").status_code == 404
    # a verification token is not a status token
    assert client.get(f"/requests/status/{forged_payload}/").status_code == 404
