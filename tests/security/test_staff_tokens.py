"""API tokens belong to service accounts; consent and disclosures APIs need staff or a token (item 9)."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

STAFF_APIS = [
    "/api/consent/purposes/",
    "/api/disclosures/batches/",
    "/api/disclosures/categories/",
    "/api/inventory/subjects/",
    "/api/requests/cases/",
]


def _token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _officer() -> User:
    user = User.objects.create_user("officer", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name="Privacy officer"))
    return user


def test_a_staff_users_token_is_refused_on_every_api_by_default():
    client = _token_client(_officer())
    statuses = [client.get(url).status_code for url in STAFF_APIS]
    assert statuses == [401] * 5  # 5 endpoints refused a staff token


def test_a_staff_users_token_works_when_the_setting_allows_it(settings):
    settings.API_ALLOW_STAFF_TOKENS = True
    client = _token_client(_officer())
    assert [client.get(url).status_code for url in STAFF_APIS] == [200] * 5


def test_a_non_staff_session_is_refused_by_the_consent_and_disclosures_apis():
    """Before: a signed-in non-staff user with permissions read the ledgers (only inventory and cases
    checked is_staff)."""
    user = User.objects.create_user("clerk", password="x" * 16, is_staff=False)
    for codename in ("view_consentstate", "view_consentevent", "view_disclosurebatch", "record_consent"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = APIClient()
    client.force_login(user)
    urls = ["/api/consent/purposes/", "/api/disclosures/batches/", "/api/disclosures/categories/"]
    assert [client.get(url).status_code for url in urls] == [403] * 3
    assert client.post("/api/consent/events/", {}, format="json").status_code == 403
    # The same account's token (a service account) keeps its explicit permissions.
    token = _token_client(user)
    assert [token.get(url).status_code for url in urls] == [200] * 3
