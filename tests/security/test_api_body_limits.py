"""A huge form body gets the API's documented JSON 400, not Django's HTML page (fuzzing finding)."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _website() -> APIClient:
    user = User.objects.create_user("website", password="x" * 16)
    user.user_permissions.add(Permission.objects.get(codename="record_consent"))
    user.user_permissions.add(Permission.objects.get(codename="log_disclosures"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize("url", ["/api/consent/events/", "/api/disclosures/batches/"])
def test_a_form_body_over_the_field_limit_is_a_json_400(url, settings):
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1
    body = "&".join(f"f{i}=x" for i in range(fields))
    response = _website().post(url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "too many fields" in response.json()["detail"]
