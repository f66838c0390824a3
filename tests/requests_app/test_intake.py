"""The public request form: CSRF, validation messages, honeypot, rate limit per IP, no account needed."""

import pytest
from django.test import Client

from requests_app.models import PrivacyRequest, Status

URL = "/requests/new/"


def _form(**overrides):
    data = {
        "request_type": "access",
        "regime": "gdpr",
        "subject_email": "form.person@example.com",
        "subject_name": "Form Person",
        "subject_phone": "",
        "description": "Please send me my data",
        "requester_kind": "subject",
        "website": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_the_form_is_served_without_an_account(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Make a privacy request" in response.content
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_a_valid_request_opens_a_case_and_shows_its_status_page(
    client, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the case opens in a task once committed
        response = client.post(URL, _form())
    assert response.status_code == 302
    case = PrivacyRequest.objects.get()
    assert (case.channel, case.status) == ("web", Status.VERIFYING)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert str(case.reference).encode() in page.content
    assert outbox.kinds() == ["request_acknowledged", "identity_verification"]


@pytest.mark.django_db
def test_csrf_is_enforced():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(URL, _form()).status_code == 403
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_invalid_input_gets_clear_messages_and_nothing_is_stored(client):
    response = client.post(URL, _form(subject_email="not-an-email", request_type="nonsense"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid email address." in body
    assert "Select a valid choice" in body
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_agents_must_say_who_they_are_and_show_authority(client):
    response = client.post(URL, _form(requester_kind="agent"))
    body = response.content.decode()
    assert "Give your name as the agent or parent." in body
    assert "what shows your authority" in body
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_1798_83_is_asked_under_its_own_regime(client):
    response = client.post(URL, _form(request_type="notice_1798_83", regime="ccpa"))
    assert "Shine the Light" in response.content.decode()
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_the_honeypot_pretends_success_and_stores_nothing(client, outbox):
    response = client.post(URL, _form(website="http://spam.example"))
    assert response.status_code == 302  # as a real submission: to a signed status page
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Your privacy request" in page.content
    assert not PrivacyRequest.objects.exists()
    assert outbox.calls == []


@pytest.mark.django_db
def test_rate_limit_per_ip(client, settings, django_capture_on_commit_callbacks):
    settings.REQUESTS_INTAKE_RATE = (3, 3600)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            assert client.post(URL, _form(subject_email=f"r{i}@example.com")).status_code == 302
    blocked = client.post(URL, _form(subject_email="r9@example.com"))
    assert blocked.status_code == 429
    assert b"Too many requests" in blocked.content
    assert PrivacyRequest.objects.count() == 3
    other_ip = client.post(URL, _form(subject_email="r10@example.com"), REMOTE_ADDR="198.51.100.9")
    assert other_ip.status_code == 302


@pytest.mark.django_db
def test_invalid_posts_count_towards_the_limit_too(client, settings):
    settings.REQUESTS_INTAKE_RATE = (2, 3600)
    client.post(URL, _form(subject_email="bad"))
    client.post(URL, _form(subject_email="bad"))
    assert client.post(URL, _form()).status_code == 429
