"""Public endpoints (core.public_endpoints): the website's cross-origin JSON views skip the session, sign-in,
CSRF and messages middleware; the admin and every other view keep the whole stack.

The probes below are served by this module's URLconf in front of the project's, so both chains are
observed from inside a view (what the request carries) and from outside (headers, cookies, status).
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.http import Http404, JsonResponse
from django.test import Client
from django.urls import include, path, resolve
from django.views.decorators.csrf import csrf_exempt

from consent.web_selectors import web_banner
from core.public_endpoints import is_public_endpoint, public_endpoint

ORIGIN = "https://www.example.com"
ATTRIBUTES = ("session", "user", "_messages", "csrf_processing_done")
seen: dict[str, dict[str, bool]] = {}


@public_endpoint
@csrf_exempt
def public_probe(request):
    seen["public"] = {name: hasattr(request, name) for name in ATTRIBUTES}
    if request.GET.get("fail") == "404":
        raise Http404("no such thing")
    if request.GET.get("fail") == "500":
        raise RuntimeError("probe failure")
    return JsonResponse({"ok": True})


def full_probe(request):
    seen["full"] = {name: hasattr(request, name) for name in ATTRIBUTES}
    request.session["probe"] = 1
    return JsonResponse({"user": request.user.get_username()})


urlpatterns = [
    path("probe/public", public_probe),
    path("probe/full", full_probe),
    path("", include("privacyops.urls")),
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _probe_urls(settings):
    settings.ROOT_URLCONF = __name__
    settings.CONSENT_WEB_ALLOWED_ORIGINS = [ORIGIN]
    settings.CONSENT_WEB_RATE_LIMIT = (1000, 60)
    settings.OTP_ADMIN_REQUIRED = False
    settings.SECURE_HSTS_SECONDS = 3600
    seen.clear()


@pytest.fixture
def signed_in():
    """A client carrying a signed-in officer's session and CSRF cookies (what a staff browser sends)."""
    user = get_user_model().objects.create_superuser("officer", "officer@example.com", "x" * 16)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/admin/").status_code == 200  # its logout form sets the CSRF cookie too
    assert {"sessionid", "csrftoken"} <= set(client.cookies)
    return client


def test_a_public_endpoint_gets_no_session_user_csrf_or_messages_even_with_their_cookies(signed_in):
    response = signed_in.post("/probe/public", "{}", content_type="application/json", secure=True)
    assert response.status_code == 200
    assert seen["public"] == dict.fromkeys(ATTRIBUTES, False)
    assert not response.cookies  # no session or CSRF cookie set or refreshed
    assert "Cookie" not in response.get("Vary", "")
    # what still runs: SecurityMiddleware before the split, CommonMiddleware and X-Frame-Options after it
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=3600")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(response.content))


def test_a_public_endpoint_still_checks_the_host_and_turns_errors_into_responses(settings):
    client = Client(raise_request_exception=False)
    assert client.get("/probe/public", HTTP_HOST="evil.example").status_code == 400  # ALLOWED_HOSTS
    assert client.get("/probe/public?fail=404").status_code == 404
    assert client.get("/probe/public?fail=500").status_code == 500
    assert seen["public"]["session"] is False


def test_every_other_view_keeps_the_whole_stack(signed_in):
    response = signed_in.get("/probe/full", secure=True)
    assert response.status_code == 200
    assert seen["full"] == dict.fromkeys(ATTRIBUTES, True)
    assert json.loads(response.content) == {"user": "officer"}  # the session signed them in
    assert "sessionid" in response.cookies  # the session was saved
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=3600")
    assert signed_in.post("/probe/full", {}, secure=True).status_code == 403  # no CSRF token: refused


def test_the_admin_keeps_csrf_session_sign_in_and_its_security_headers(signed_in):
    anonymous = Client(enforce_csrf_checks=True)
    login = anonymous.get("/admin/login/", secure=True)
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    assert login["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login["Content-Security-Policy"]
    assert login["Strict-Transport-Security"].startswith("max-age=3600")
    refused = anonymous.post("/admin/login/", {"username": "officer", "password": "x" * 16}, secure=True)
    assert refused.status_code == 403  # no CSRF token
    assert signed_in.get("/admin/", secure=True).status_code == 200  # signed in by the session
    assert anonymous.get("/admin/", secure=True).status_code == 302  # not signed in
    assert anonymous.get("/admin", secure=True).status_code == 301  # CommonMiddleware's APPEND_SLASH


def test_the_website_consent_views_are_public_and_the_opt_out_pages_are_not():
    for url in ("/consent/web/choice", "/consent/web/config", "/consent/web/consent.js"):
        assert is_public_endpoint(resolve(url).func), url
    for url in ("/consent/web/do-not-sell", "/consent/web/limit-sensitive", "/admin/", "/healthz"):
        assert not is_public_endpoint(resolve(url).func), url


def test_a_choice_from_a_browser_with_a_staff_session_sets_no_cookie_and_reads_no_session(signed_in):
    response = signed_in.post(
        "/consent/web/choice",
        json.dumps({"choices": {"analytics": True}, "banner_sha256": web_banner(region="DE").sha256}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_CF_IPCOUNTRY="DE",
        secure=True,
    )
    assert response.status_code == 200, response.content
    assert not response.cookies
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["X-Frame-Options"] == "DENY"
