"""Case intake through the API has its own rate (API_THROTTLE_INTAKE, scope "intake"), per user."""

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from requests_app.models import PrivacyRequest

URL = "/api/requests/cases/"


def _intake(n: int) -> dict:
    return {
        "request_type": "erasure",
        "regime": "ccpa",
        "channel": "phone",
        "subject_email": f"caller{n}@example.com",
        "subject_name": f"Caller {n}",
        "received_at": "2026-11-20T10:00:00Z",
    }


@pytest.fixture
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_the_eleventh_intake_in_the_window_gets_429(officer, fresh_throttles):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["intake"] == "10/hour"
    api = APIClient()
    api.force_authenticate(officer)
    statuses = [api.post(URL, _intake(n), format="json").status_code for n in range(11)]
    assert statuses == [201] * 10 + [429]
    assert PrivacyRequest.objects.count() == 10
    # Reads are not intake: the officer can still list cases.
    assert api.get(URL).status_code == 200


@pytest.mark.django_db
def test_the_intake_rate_is_the_setting_and_counts_per_user(
    officer, django_user_model, fresh_throttles, monkeypatch
):
    # DRF copies the rates into the throttle class at import, so the setting is changed there.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "intake", "2/min")
    api = APIClient()
    api.force_authenticate(officer)
    statuses = [api.post(URL, _intake(n), format="json").status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    other = django_user_model.objects.create_user(username="officer2", password="x" * 16, is_staff=True)
    other.groups.set(officer.groups.all())
    other_api = APIClient()
    other_api.force_authenticate(other)
    assert other_api.post(URL, _intake(99), format="json").status_code == 201
