"""Sign-in protection: repeated failures lock the account out from that address, even with the right password."""

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("officer", password=PASSWORD, is_staff=True)


def _login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "officer", "password": password})


@pytest.mark.django_db
def test_five_failures_lock_out_the_sixth_attempt_even_with_the_right_password(
    client, staff, axes_enabled, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _login(client, "wrong password")
        assert response.status_code == 200  # the login form again, with an error
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_counter(client, staff, axes_enabled, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "wrong password")
    assert _login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "wrong password")
    assert _login(client, PASSWORD).status_code == 302
