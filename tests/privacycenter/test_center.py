"""The self-service privacy center: emailed single-use link, choices, requests with due dates, packages."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from consent.models import ConsentEvent, WebDevice
from consent.selectors import consent_is_current
from privacycenter.models import CenterLink
from requests_app.models import PrivacyRequest, Status
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

pytestmark = pytest.mark.django_db


_CAPTURE = {}


@pytest.fixture(autouse=True)
def _deliver_on_commit(django_capture_on_commit_callbacks):
    """Notices go out after commit: run those callbacks, as production's commit would."""
    _CAPTURE["capture"] = django_capture_on_commit_callbacks
    yield
    _CAPTURE.clear()


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PRIVACY_CENTER_LINK_RATE_LIMIT = (1000, 60)
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def person():
    subject = DataSubjectFactory(email="ada@example.com", country="US", region="CA")
    grant(subject, "marketing_email")
    return subject


def _ask(client, email):
    with _CAPTURE["capture"](execute=True):
        return client.post(reverse("privacycenter:ask"), {"email": email})


def _link_from_mail() -> str:
    body = mail.outbox[-1].body
    return re.search(r"https?://\S+/privacycenter/enter/\S+/", body).group(0)


def _sign_in(client, person) -> None:
    _ask(client, person.email)
    path = _link_from_mail().split("://", 1)[1].split("/", 1)[1]
    client.get("/" + path)
    assert client.post("/" + path).status_code == 302


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(client, person):
    known = _ask(client, "ada@example.com")
    sent = len(mail.outbox)
    unknown = _ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert sent == 1 and len(mail.outbox) == 1  # a link went only to the known address
    assert CenterLink.objects.count() == 1


def test_the_link_is_single_use_and_opening_it_changes_nothing_until_the_button(client, person):
    _ask(client, person.email)
    path = "/" + _link_from_mail().split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200
    assert CenterLink.objects.get().used_at is None  # a mail scanner's GET uses nothing
    assert client.post(path).status_code == 302
    assert Client().post(path).status_code == 400  # a second use is refused


def test_the_link_expires(client, person):
    _ask(client, person.email)
    path = "/" + _link_from_mail().split("://", 1)[1].split("/", 1)[1]
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)):
        response = client.post(path)
    assert response.status_code == 400 and b"expired" in response.content


def test_the_person_sees_and_changes_their_choices(client, person):
    _sign_in(client, person)
    page = client.get(reverse("privacycenter:home"))
    assert page.status_code == 200 and b"Marketing emails" in page.content
    client.post(reverse("privacycenter:choice"), {"purpose": "marketing_email", "allowed": "0"})
    assert not consent_is_current(subject_id=person.pk, purpose="marketing_email")
    client.post(reverse("privacycenter:choice"), {"purpose": "surveys", "allowed": "1"})
    assert consent_is_current(subject_id=person.pk, purpose="surveys")
    event = ConsentEvent.objects.filter(subject=person, purpose__code="surveys").get()
    assert event.channel == "web_form" and event.collection_point == "privacy-center"


def test_without_a_session_the_center_sends_you_to_ask_for_a_link(client):
    assert client.get(reverse("privacycenter:home"))["Location"] == reverse("privacycenter:ask")
    assert (
        client.post(reverse("privacycenter:choice"), {"purpose": "surveys", "allowed": "1"}).status_code
        == 302
    )
    assert not ConsentEvent.objects.exists()


def test_a_request_filed_from_the_center_is_already_verified_and_listed_with_its_due_date(client, person):
    _sign_in(client, person)
    client.post(reverse("privacycenter:request"), {"request_type": "opt_out"})
    client.post(reverse("privacycenter:request"), {"request_type": "access"})
    cases = {c.type: c for c in PrivacyRequest.objects.filter(subject=person)}
    assert set(cases) == {"opt_out", "access"}
    assert cases["access"].identity_verified_at is not None
    assert cases["access"].status in (Status.IN_PROGRESS, Status.COMPLETED, Status.IDENTITY_IN_DOUBT)
    assert cases["access"].regime == "ccpa"
    page = client.get(reverse("privacycenter:home")).content.decode()
    assert str(cases["access"].reference)[:8] in page
    assert cases["access"].due_on.strftime("%Y") in page


def test_gpc_seen_at_sign_in_applies_to_the_person(client, person):
    grant(person, "share_marketing_partners")
    _ask(client, person.email)
    path = "/" + _link_from_mail().split("://", 1)[1].split("/", 1)[1]
    client.post(path, HTTP_SEC_GPC="1")
    assert not consent_is_current(subject_id=person.pk, purpose="share_marketing_partners")
    assert WebDevice.objects.get().person_id == person.pk
