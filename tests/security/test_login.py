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
def test_the_fifth_failure_locks_out_even_the_right_password(client, staff, axes_enabled, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong password").status_code == 200  # the form again, with an error
    assert _login(client, "wrong password").status_code == 429  # the limit-th failure locks
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
