"""Two-factor sign-in for the admin: with OTP required, a password alone never opens the admin."""

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery staple"


@pytest.fixture
def otp_required(settings):
    settings.OTP_ADMIN_REQUIRED = True


@pytest.fixture
def officer(db):
    return get_user_model().objects.create_superuser("officer", "officer@example.com", PASSWORD)


def _current_token(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.mark.django_db
def test_a_signed_in_but_unverified_user_is_sent_back_to_the_login(client, officer, otp_required):
    client.force_login(officer)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.django_db
def test_password_without_a_code_is_refused(client, officer, otp_required):
    TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    response = client.post("/admin/login/", {"username": "officer", "password": PASSWORD, "otp_token": ""})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_password_and_a_valid_code_open_the_admin(client, officer, otp_required):
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    response = client.post(
        "/admin/login/",
        {
            "username": "officer",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _current_token(device),
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_wrong_code_is_refused(client, officer, otp_required):
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    wrong = f"{(int(_current_token(device)) + 1) % 10**6:06d}"
    client.post(
        "/admin/login/",
        {"username": "officer", "password": PASSWORD, "otp_device": device.persistent_id, "otp_token": wrong},
    )
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_without_the_requirement_a_password_is_enough(client, officer, settings):
    settings.OTP_ADMIN_REQUIRED = False
    client.force_login(officer)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_otp_enroll_prints_an_otpauth_url(officer, capsys):
    from django.core.management import call_command

    call_command("otp_enroll", "officer")
    assert "otpauth://totp/" in capsys.readouterr().out
    assert TOTPDevice.objects.filter(user=officer, confirmed=True).count() == 1
