"""One-click unsubscribe (RFC 8058) and the unsubscribe page: no login, signed tokens, nothing on bad ones."""

import datetime as dt

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse

from consent.models import ConsentEvent
from consent.selectors import consent_is_current
from consent.tokens import SALT, make_token, unsubscribe_url
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def client():
    # A mailbox provider posts with no session and no CSRF token: enforce CSRF to prove we don't need it.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def subscribed():
    subject = DataSubjectFactory()
    grant(subject, "marketing_email")
    grant(subject, "marketing_phone")
    return subject


def _url(subject, purpose="marketing_email") -> str:
    return reverse(
        "consent:unsubscribe", args=[make_token(subject_public_id=subject.public_id, purpose=purpose)]
    )


@pytest.mark.django_db
def test_one_click_post_withdraws_at_once_without_a_session_or_csrf_token(client, subscribed):
    response = client.post(_url(subscribed), ONE_CLICK)
    assert response.status_code == 200
    assert not consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")
    assert consent_is_current(subject_id=subscribed.pk, purpose="marketing_phone")  # only the link's purpose
    event = ConsentEvent.objects.get(subject=subscribed, action="withdraw")
    assert (event.channel, event.actor_label) == ("email_link", "unsubscribe-link")
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_repeated_one_click_posts_record_one_withdrawal(client, subscribed):
    client.post(_url(subscribed), ONE_CLICK)
    client.post(_url(subscribed), ONE_CLICK)
    assert ConsentEvent.objects.filter(subject=subscribed, action="withdraw").count() == 1


@pytest.mark.django_db
def test_get_shows_a_button_and_changes_nothing(client, subscribed):
    response = client.get(_url(subscribed))
    assert response.status_code == 200
    assert b'method="post"' in response.content and b"Unsubscribe" in response.content
    assert consent_is_current(
        subject_id=subscribed.pk, purpose="marketing_email"
    )  # link scanners prefetch GETs


@pytest.mark.django_db
def test_the_page_button_withdraws_and_can_withdraw_all_marketing(client, subscribed):
    response = client.post(_url(subscribed), {"scope": "all_marketing"})
    assert response.status_code == 200
    assert not consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")
    assert not consent_is_current(subject_id=subscribed.pk, purpose="marketing_phone")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # tampered signature
        lambda t: "x" + t[1:],  # tampered payload
        lambda t: signing.dumps({"s": t, "p": "marketing_email"}, salt="another-salt"),  # wrong salt
        lambda t: "not-a-token",
    ],
    ids=["signature", "payload", "salt", "garbage"],
)
def test_forged_or_tampered_tokens_get_a_clear_400_page_and_change_nothing(client, subscribed, mangle):
    token = mangle(make_token(subject_public_id=subscribed.public_id, purpose="marketing_email"))
    before = ConsentEvent.objects.count()
    for response in (
        client.post(f"/consent/unsubscribe/{token}/", ONE_CLICK),
        client.get(f"/consent/unsubscribe/{token}/"),
    ):
        assert response.status_code == 400
        assert b"not valid" in response.content
    assert ConsentEvent.objects.count() == before
    assert consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_a_token_forged_for_a_subject_with_another_key_is_refused(client, subscribed, settings):
    settings.SECRET_KEY = "attacker-" + "k" * 50
    forged = make_token(subject_public_id=subscribed.public_id, purpose="marketing_email")
    settings.SECRET_KEY = "the-real-secret-" + "s" * 50
    response = client.post(f"/consent/unsubscribe/{forged}/", ONE_CLICK)
    assert response.status_code == 400
    assert consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_expired_tokens_are_refused_with_an_explanation_and_change_nothing(client, subscribed):
    url = _url(subscribed)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=401)):
        response = client.post(url, ONE_CLICK)
    assert response.status_code == 400
    assert b"expired" in response.content
    assert consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_links_still_work_after_30_days_as_can_spam_requires(client, subscribed):
    url = _url(subscribed)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=31)):
        assert client.post(url, ONE_CLICK).status_code == 200
    assert not consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_a_post_without_the_one_click_body_or_a_button_changes_nothing(client, subscribed):
    response = client.post(_url(subscribed), {"something": "else"})
    assert response.status_code == 400
    assert consent_is_current(subject_id=subscribed.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_tokens_for_required_purposes_are_refused(client, subscribed):
    response = client.post(_url(subscribed, "transactional"), ONE_CLICK)
    assert response.status_code == 400


@pytest.mark.django_db
def test_token_holds_the_public_uuid_not_the_email_or_id(subscribed):
    token = make_token(subject_public_id=subscribed.public_id, purpose="marketing_email")
    assert signing.loads(token, salt=SALT) == {"s": str(subscribed.public_id), "p": "marketing_email"}


def test_unsubscribe_url_is_absolute_on_the_site_url(settings):
    settings.SITE_URL = "https://privacy.example.com/"
    url = unsubscribe_url(subject_public_id="2b1f9d53-97a5-4f7d-9a0e-8a8c2c9b1f00", purpose="marketing_email")
    assert url.startswith("https://privacy.example.com/consent/unsubscribe/") and url.endswith("/")
