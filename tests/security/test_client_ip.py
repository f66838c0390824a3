"""Rate limits count per client behind one trusted-proxy setting shared with axes, and per IPv6 /64
(issue 15 item 3)."""

import pytest
from axes.helpers import get_client_ip_address
from django.core.cache import cache
from django.test import RequestFactory

from requests_app.models import PrivacyRequest

URL = "/requests/new/"
PROXY = "10.0.0.1"


def _form(n: int) -> dict:
    return {
        "request_type": "access",
        "regime": "gdpr",
        "subject_email": f"rate{n}@example.com",
        "requester_kind": "subject",
        "website": "",
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_ipv6_addresses_of_one_slash_64_share_one_limit(client, settings, django_capture_on_commit_callbacks):
    settings.REQUESTS_INTAKE_RATE = (2, 3600)
    same_network = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"]
    with django_capture_on_commit_callbacks(execute=True):  # cases open in a task once committed
        statuses = [
            client.post(URL, _form(i), REMOTE_ADDR=ip).status_code for i, ip in enumerate(same_network)
        ]
        assert statuses == [302, 302, 429]  # 3 addresses, 1 network, refused at the third
        assert client.post(URL, _form(9), REMOTE_ADDR="2001:db8:1:3::1").status_code == 302  # next /64
    assert PrivacyRequest.objects.count() == 3


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit_and_forged_headers_move_nothing(
    client, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REQUESTS_INTAKE_RATE = (1, 3600)

    def post(n: int, forwarded: str) -> int:
        return client.post(URL, _form(n), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert post(1, "203.0.113.5") == 302
    assert post(2, "203.0.113.6") == 302  # another visitor through the same proxy: not one IP
    assert post(3, "203.0.113.5") == 429
    assert post(4, "198.51.100.77, 203.0.113.5") == 429  # a client-written entry before ours is ignored


def test_axes_and_the_rate_limit_read_the_client_ip_from_the_same_setting(settings):
    request = RequestFactory().post(
        "/admin/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5"
    )
    settings.TRUSTED_PROXY_COUNT = 0
    assert get_client_ip_address(request) == PROXY
    settings.TRUSTED_PROXY_COUNT = 1
    assert get_client_ip_address(request) == "203.0.113.5"
    assert settings.AXES_CLIENT_IP_CALLABLE == "core.client_ip.client_ip"


@pytest.mark.django_db
def test_the_honeypot_answers_exactly_like_a_real_submission(client, django_capture_on_commit_callbacks):
    import re

    def shape(html: str) -> str:
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "REF", html)

    with django_capture_on_commit_callbacks(execute=True):
        real = client.post(URL, _form(1))
    bot = client.post(URL, {**_form(2), "website": "http://spam.example"})
    assert (real.status_code, bot.status_code) == (302, 302)
    assert real["Location"].split("/status/")[0] == bot["Location"].split("/status/")[0]
    real_page, bot_page = client.get(real["Location"]), client.get(bot["Location"])
    assert (real_page.status_code, bot_page.status_code) == (200, 200)
    assert shape(real_page.content.decode()) == shape(bot_page.content.decode())
    assert PrivacyRequest.objects.count() == 1  # the bot's stored nothing


@pytest.mark.django_db
def test_mail_to_one_unverified_address_is_capped_and_the_answer_does_not_change(
    client, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    settings.REQUESTS_UNVERIFIED_MAIL_CAP = (3, 86400)
    settings.REQUESTS_INTAKE_RATE = (100, 3600)
    victim = {**_form(0), "subject_email": "victim@example.org"}
    statuses = []
    for i in range(6):  # six submissions from six addresses, all naming the victim
        with django_capture_on_commit_callbacks(execute=True):
            statuses.append(client.post(URL, victim, REMOTE_ADDR=f"203.0.113.{i + 1}").status_code)
    assert statuses == [302] * 6  # every submission gets the same answer
    to_victim = [m for m in mail.outbox if "victim@example.org" in m.to]
    assert PrivacyRequest.objects.count() == 3
    assert len(to_victim) == 3 * 2  # 3 submissions x (acknowledgement + verification), then nothing


# --- every other limit counts the same bucket (IPv4 whole, IPv6 per /64, behind TRUSTED_PROXY_COUNT) ------

SAME_64 = ("2001:db8:5:6::1", "2001:db8:5:6:aaaa::2")  # one subscriber's network
OTHER_64 = "2001:db8:5:7::1"


def _drf_view(throttle):
    """A DRF view open to anonymous callers, throttled by `throttle` at 2 a minute: the API's own
    endpoints all refuse anonymous callers before throttling, so this is where an anonymous count shows."""
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Limited(throttle):
        THROTTLE_RATES = {"anon": "2/min", "user": "2/min", "intake": "2/min"}

    class Open(APIView):
        permission_classes = [AllowAny]
        throttle_classes = [Limited]
        throttle_scope = "intake"

        def post(self, request):
            return Response({})

    return Open.as_view()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["AnonRateThrottle", "UserRateThrottle", "ScopedRateThrottle"])
def test_api_throttles_count_an_ipv6_slash_64_as_one_client(name):
    from rest_framework.test import APIRequestFactory

    from core import throttling

    view = _drf_view(getattr(throttling, name))
    factory = APIRequestFactory()

    def call(ip: str) -> int:
        return view(factory.post("/api/x/", {}, format="json", REMOTE_ADDR=ip)).status_code

    assert [call(SAME_64[0]), call(SAME_64[1]), call(SAME_64[0])] == [200, 200, 429]  # 2 a minute per /64
    assert call(OTHER_64) == 200  # the next /64 has its own count
    assert call("203.0.113.9") == 200 and call("203.0.113.10") == 200  # IPv4 addresses count alone


def test_the_api_uses_the_shared_throttles_for_every_rate():
    from rest_framework.settings import api_settings

    from core import throttling
    from requests_app.api import CaseViewSet

    assert [throttling.AnonRateThrottle, throttling.UserRateThrottle] == api_settings.DEFAULT_THROTTLE_CLASSES
    intake = CaseViewSet(action="create", request=None, format_kwarg=None)
    assert [type(t) for t in intake.get_throttles()] == [
        throttling.AnonRateThrottle,
        throttling.UserRateThrottle,
        throttling.ScopedRateThrottle,  # API_THROTTLE_INTAKE
    ]


def _consent_choice(client, ip: str) -> int:
    return client.post(
        "/consent/web/choice", "not json", content_type="application/json",
        HTTP_ORIGIN="http://testserver", REMOTE_ADDR=ip,
    ).status_code  # fmt: skip


def _center_link(client, ip: str) -> int:
    return client.post("/privacycenter/", {"email": ""}, REMOTE_ADDR=ip).status_code


def _drp(client, ip: str) -> int:
    return client.get("/privacycenter/drp/v1/agent/NOBODY", REMOTE_ADDR=ip).status_code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limit_setting", "call", "answer"),
    [
        ("CONSENT_WEB_RATE_LIMIT", _consent_choice, 400),  # the website's consent endpoint
        ("PRIVACY_CENTER_LINK_RATE_LIMIT", _center_link, 400),  # asking a privacy-center link
        ("PRIVACY_CENTER_DRP_RATE_LIMIT", _drp, 403),  # the Data Rights Protocol endpoints
    ],
)
def test_public_endpoints_count_an_ipv6_slash_64_as_one_client(client, settings, limit_setting, call, answer):
    setattr(settings, limit_setting, (2, 3600))
    assert [call(client, SAME_64[0]), call(client, SAME_64[1]), call(client, SAME_64[0])] == [
        answer,
        answer,
        429,
    ]  # 3 addresses' calls, 1 network, refused at the third
    assert call(client, OTHER_64) == answer  # the next /64 has its own count


@pytest.mark.django_db
def test_public_endpoints_read_the_client_behind_the_trusted_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PRIVACY_CENTER_DRP_RATE_LIMIT = (1, 3600)

    def drp(forwarded: str) -> int:
        return client.get(
            "/privacycenter/drp/v1/agent/NOBODY", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [drp("203.0.113.5"), drp("203.0.113.6")] == [403, 403]  # 2 visitors, 1 proxy: 2 counts
    assert drp("198.51.100.1, 203.0.113.5") == 429  # a forged first entry moves nothing


@pytest.mark.django_db
def test_failed_api_tokens_are_limited_per_slash_64_before_any_lookup(client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")

    def guess(ip: str, n: int) -> int:
        return client.get(
            "/api/requests/cases/", HTTP_AUTHORIZATION=f"Token {n:040x}", REMOTE_ADDR=ip
        ).status_code

    network = ["2001:db8:9:1::1", "2001:db8:9:1::2", "2001:db8:9:1::3", "2001:db8:9:1::4"]
    assert [guess(ip, n) for n, ip in enumerate(network)] == [401, 401, 401, 429]  # 3 failures, then refused
    assert guess("2001:db8:9:2::1", 9) == 401  # another /64: its own count
    assert client.get("/api/requests/cases/", REMOTE_ADDR=network[0]).status_code in (
        401,
        403,
    )  # no token: as before
