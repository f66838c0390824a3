"""The website's consent endpoint, GPC, the CCPA opt-out pages and consent.js delivery (issue 18).

Everything goes through the real ledger services on PostgreSQL: a web choice is a ledger event with a
WebChoice row holding the banner hash, GPC flag, region and the rule that applied.
"""

import gzip
import json

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from consent import web
from consent.models import (
    Action,
    ConsentEvent,
    ConsentState,
    Purpose,
    SuppressedAddress,
    WebChoice,
    WebDevice,
)
from consent.selectors import consent_is_current, event_evidence
from consent.services import purpose_update, web_choice_record, web_device_link_person
from consent.suppression import email_hmac
from consent.web_models import WebRule
from consent.web_selectors import OPT_IN, OPT_OUT, region_model, web_banner
from tests.consent.factories import grant, published_policy
from tests.factories import DataSubjectFactory

ORIGIN = "https://www.example.com"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _web_settings(settings):
    settings.CONSENT_WEB_ALLOWED_ORIGINS = [ORIGIN]
    settings.CONSENT_WEB_REGION_HEADER = "CF-IPCountry"
    settings.CONSENT_WEB_DEFAULT_REGION = "EU"
    settings.CONSENT_WEB_RATE_LIMIT = (1000, 60)
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def _post(client, body, *, origin=ORIGIN, region="DE", **headers):
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    if region:
        extra["HTTP_CF_IPCOUNTRY"] = region
    extra.update(headers)
    return client.post(
        reverse("consent:web-choice"),
        data=json.dumps(body) if not isinstance(body, bytes) else body,
        content_type="application/json",
        REMOTE_ADDR="203.0.113.77",
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/130",
        **extra,
    )


def _config(client, *, region="DE", device="", **headers):
    url = reverse("consent:web-config") + (f"?device={device}" if device else "")
    return client.get(url, HTTP_ORIGIN=ORIGIN, HTTP_CF_IPCOUNTRY=region, **headers).json()


def _state(device_id: str, code: str) -> str | None:
    device = WebDevice.objects.get(public_id=device_id)
    state = ConsentState.objects.filter(subject_id=device.subject_id, purpose__code=code).first()
    return state.action if state else None


# --- purposes and regions ----------------------------------------------------------------------------


def test_web_purposes_are_marked_with_keys_and_sale_or_sharing_flags():
    marked = dict(Purpose.objects.exclude(web_key="").values_list("web_key", "code"))
    assert marked == {
        "necessary": "strictly_necessary",
        "analytics": "analytics_cookies",
        "advertising": "advertising_pixels",
        "widgets": "widgets",
    }
    sharing = set(Purpose.objects.filter(sale_or_sharing=True).values_list("code", flat=True))
    assert sharing == {"advertising_pixels", "widgets", "share_marketing_partners"}
    assert Purpose.objects.get(code="strictly_necessary").required


@pytest.mark.parametrize(
    ("region", "model"),
    [("DE", OPT_IN), ("GB", OPT_IN), ("CH", OPT_IN), ("US", OPT_OUT), ("US-CA", OPT_OUT), ("", OPT_IN)],
)
def test_region_decides_opt_in_or_opt_out_defaults(region, model):
    assert region_model(region) == model


def test_config_gives_eu_visitors_everything_off_and_us_visitors_the_opt_out_model(client):
    eu = _config(client, region="FR")
    us = _config(client, region="US")
    assert eu["model"] == OPT_IN and us["model"] == OPT_OUT
    assert eu["state"]["choices"] == {
        "necessary": True,
        "analytics": False,
        "advertising": False,
        "widgets": False,
    }
    assert us["state"]["choices"] == {
        "necessary": True,
        "analytics": True,
        "advertising": True,
        "widgets": True,
    }
    assert us["banner"]["do_not_sell_url"].endswith(reverse("consent:web-do-not-sell"))
    assert eu["banner"]["do_not_sell_url"] == ""
    assert eu["banner"]["sha256"] != us["banner"]["sha256"]


def test_config_without_the_region_header_uses_the_documented_default(client, settings):
    assert client.get(reverse("consent:web-config"), HTTP_ORIGIN=ORIGIN).json()["region"] == "EU"
    settings.CONSENT_WEB_DEFAULT_REGION = "US"
    assert client.get(reverse("consent:web-config"), HTTP_ORIGIN=ORIGIN).json()["model"] == OPT_OUT


# --- the choice endpoint -------------------------------------------------------------------------------


def test_a_choice_is_recorded_on_the_ledger_with_its_web_evidence(client):
    policy = published_policy()
    banner = _config(client)["banner"]
    assert banner["policy_version"] == policy.version
    response = _post(
        client, {"choices": {"analytics": True, "advertising": False}, "banner_sha256": banner["sha256"]}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["choices"]["analytics"] is True and body["choices"]["advertising"] is False
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    events = {e.purpose.code: e for e in ConsentEvent.objects.select_related("purpose", "web_choice")}
    assert set(events) == {"analytics_cookies", "advertising_pixels"}
    analytics = events["analytics_cookies"]
    assert analytics.action == Action.GRANT and analytics.channel == "cookie_banner"
    assert analytics.policy_version == policy
    assert analytics.web_choice.banner_sha256 == banner["sha256"]
    assert analytics.web_choice.region == "DE" and analytics.web_choice.gpc is False
    assert analytics.web_choice.rule == WebRule.CHOICE
    assert event_evidence(analytics)["ip_network"] == "203.0.113.0/24"  # minimised, sealed
    assert set(body["receipts"]) == {str(e.public_id) for e in events.values()}
    assert _state(body["device_id"], "analytics_cookies") == Action.GRANT


def test_the_same_device_changes_its_mind_and_the_fold_follows(client):
    sha = _config(client)["banner"]["sha256"]
    first = _post(client, {"choices": {"analytics": True}, "banner_sha256": sha}).json()
    second = _post(
        client, {"device_id": first["device_id"], "choices": {"analytics": False}, "banner_sha256": sha}
    ).json()
    assert second["device_id"] == first["device_id"]
    assert WebDevice.objects.count() == 1
    assert _state(first["device_id"], "analytics_cookies") == Action.WITHDRAW
    assert _config(client, device=first["device_id"])["state"]["chosen"] == ["analytics"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "json"),
        ({"choices": {"analytics": "yes"}}, "choice"),
        ({"choices": {"necessary": False}}, "purpose"),
        ({"choices": {"unknown": True}}, "purpose"),
        ({"choices": {"analytics": True}, "banner_sha256": "0" * 64}, "banner"),
        ({"choices": {"analytics": True}, "device_id": "not-a-uuid"}, "device_id"),
        ({"choices": ["analytics"]}, "choices"),
        ({"choices": {}, "gpc": "1"}, "gpc"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_nothing_is_recorded(client, body, code):
    if isinstance(body, dict):
        body.setdefault("banner_sha256", _config(client)["banner"]["sha256"])
    response = _post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == code and response.json()["detail"]
    assert not ConsentEvent.objects.exists() and not WebChoice.objects.exists()


def test_an_origin_that_is_not_configured_is_refused_and_nothing_is_recorded(client):
    sha = _config(client)["banner"]["sha256"]
    response = _post(
        client, {"choices": {"analytics": True}, "banner_sha256": sha}, origin="https://evil.test"
    )
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
    assert _post(client, {"choices": {"analytics": True}, "banner_sha256": sha}, origin="").status_code == 403
    assert not ConsentEvent.objects.exists()


def test_preflight_answers_configured_origins_only(client):
    url = reverse("consent:web-choice")
    ok = client.options(url, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == ORIGIN
    assert "Content-Type" in ok["Access-Control-Allow-Headers"]
    bad = client.options(url, HTTP_ORIGIN="https://evil.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert bad.status_code == 403 and "Access-Control-Allow-Origin" not in bad


def test_the_endpoint_is_rate_limited_per_client_address(client, settings):
    settings.CONSENT_WEB_RATE_LIMIT = (3, 60)
    sha = _config(client)["banner"]["sha256"]
    codes = [
        _post(client, {"choices": {"analytics": True}, "banner_sha256": sha}).status_code for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    assert WebDevice.objects.count() == 3


def test_web_choice_evidence_is_append_only():
    result = web_choice_record(device_id=None, choices={"analytics_cookies": True})
    choice = WebChoice.objects.get(event__public_id=result.receipts[0])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        WebChoice.objects.filter(pk=choice.pk).update(gpc=True)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        WebChoice.objects.filter(pk=choice.pk).delete()
    assert WebChoice.objects.filter(pk=choice.pk, gpc=choice.gpc).exists()  # on SQLite too (its triggers)


def test_each_event_has_exactly_one_web_choice_row():
    result = web_choice_record(device_id=None, choices={"analytics_cookies": True})
    event = ConsentEvent.objects.get(public_id=result.receipts[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        WebChoice.objects.create(event=event, rule=WebRule.CHOICE)


# --- Global Privacy Control --------------------------------------------------------------------------


def test_a_gpc_header_records_an_opt_out_of_every_sale_or_sharing_purpose_for_the_device(client):
    sha = _config(client, region="US")["banner"]["sha256"]
    body = _post(client, {"choices": {}, "banner_sha256": sha}, region="US", HTTP_SEC_GPC="1").json()
    assert body["gpc_honoured"] is True
    assert body["choices"]["advertising"] is False and body["choices"]["widgets"] is False
    assert body["choices"]["analytics"] is True  # not a sale or sharing: the US default stays
    for code in ("advertising_pixels", "widgets", "share_marketing_partners"):
        assert _state(body["device_id"], code) == Action.WITHDRAW
    rules = set(WebChoice.objects.values_list("rule", "gpc"))
    assert rules == {(WebRule.GPC, True)}


def test_navigator_gpc_in_the_body_counts_like_the_header_and_is_not_recorded_twice(client):
    sha = _config(client, region="US")["banner"]["sha256"]
    first = _post(client, {"choices": {}, "gpc": True, "banner_sha256": sha}, region="US").json()
    count = ConsentEvent.objects.count()
    assert count == 3
    _post(
        client,
        {"device_id": first["device_id"], "choices": {}, "gpc": True, "banner_sha256": sha},
        region="US",
    )
    assert ConsentEvent.objects.count() == count  # a page view with the signal adds nothing
    assert _config(client, region="US", device=first["device_id"], HTTP_SEC_GPC="1")["state"]["gpc_recorded"]


def test_gpc_overrides_an_earlier_opt_in_and_records_the_7025_c_3_rule(client):
    sha = _config(client, region="US")["banner"]["sha256"]
    device = _post(client, {"choices": {"advertising": True}, "banner_sha256": sha}, region="US").json()[
        "device_id"
    ]
    assert _state(device, "advertising_pixels") == Action.GRANT
    body = _post(
        client, {"device_id": device, "choices": {}, "banner_sha256": sha}, region="US", HTTP_SEC_GPC="1"
    )
    assert body.json()["conflict"] is True
    assert body.json()["rules"]["advertising_pixels"] == WebRule.GPC_OVER_OPT_IN
    assert _state(device, "advertising_pixels") == Action.WITHDRAW
    latest = ConsentEvent.objects.filter(purpose__code="advertising_pixels").order_by("-id").first()
    assert latest.web_choice.rule == WebRule.GPC_OVER_OPT_IN and latest.web_choice.gpc


def test_an_opt_in_with_the_signal_on_needs_the_conflict_notice(client):
    sha = _config(client, region="US")["banner"]["sha256"]
    refused = _post(
        client, {"choices": {"advertising": True}, "gpc": True, "banner_sha256": sha}, region="US"
    ).json()
    assert _state(refused["device_id"], "advertising_pixels") == Action.WITHDRAW
    assert refused["rules"]["advertising_pixels"] == WebRule.GPC_REFUSED_OPT_IN
    after_notice = _post(
        client,
        {
            "device_id": refused["device_id"],
            "choices": {"advertising": True},
            "gpc": True,
            "conflict_acknowledged": True,
            "banner_sha256": sha,
        },
        region="US",
    ).json()
    assert after_notice["rules"]["advertising_pixels"] == WebRule.OPT_IN_AFTER_NOTICE
    assert _state(refused["device_id"], "advertising_pixels") == Action.GRANT


def test_gpc_applies_to_the_person_once_the_device_is_linked_to_them():
    person = DataSubjectFactory()
    grant(person, "share_marketing_partners")
    result = web_choice_record(device_id=None, choices={}, gpc=True, region="US-CA")
    web_device_link_person(device_id=result.device_id, person_id=person.pk)
    assert not consent_is_current(subject_id=person.pk, purpose="share_marketing_partners")
    assert not consent_is_current(subject_id=person.pk, purpose="advertising_pixels")
    # Later choices of the device are recorded for the person too.
    web_choice_record(device_id=result.device_id, choices={"analytics_cookies": True})
    assert consent_is_current(subject_id=person.pk, purpose="analytics_cookies")


# --- the opt-out pages ----------------------------------------------------------------------------------


def test_do_not_sell_page_works_without_javascript_and_opts_the_device_out(client):
    page = client.get(reverse("consent:web-do-not-sell"))
    assert page.status_code == 200 and b"<form" in page.content and b"<script" not in page.content
    csrf = page.cookies["csrftoken"].value
    done = client.post(
        reverse("consent:web-do-not-sell"), {"csrfmiddlewaretoken": csrf}, HTTP_CF_IPCOUNTRY="US"
    )
    assert done.status_code == 200 and b"Done" in done.content
    device = done.cookies[web.DEVICE_COOKIE].value
    for code in ("advertising_pixels", "widgets", "share_marketing_partners"):
        assert _state(device, code) == Action.WITHDRAW
    assert set(WebChoice.objects.values_list("rule", flat=True)) == {WebRule.DO_NOT_SELL}


def test_do_not_sell_with_a_known_address_opts_the_person_out_and_an_unknown_one_is_suppressed(client):
    person = DataSubjectFactory(email="known@example.com")
    grant(person, "share_marketing_partners")
    page = client.get(reverse("consent:web-do-not-sell"))
    csrf = page.cookies["csrftoken"].value
    known = client.post(
        reverse("consent:web-do-not-sell"), {"csrfmiddlewaretoken": csrf, "email": "known@example.com"}
    )
    unknown = client.post(
        reverse("consent:web-do-not-sell"), {"csrfmiddlewaretoken": csrf, "email": "stranger@example.com"}
    )
    assert known.status_code == unknown.status_code == 200
    assert not consent_is_current(subject_id=person.pk, purpose="share_marketing_partners")
    suppressed = set(SuppressedAddress.objects.values_list("email_hmac", "purpose__code"))
    assert (email_hmac("stranger@example.com"), "advertising_pixels") in suppressed
    assert not any(h == email_hmac("known@example.com") for h, _ in suppressed)


def test_limit_sensitive_page_withdraws_the_sensitive_use_purpose(client):
    page = client.get(reverse("consent:web-limit-sensitive"))
    assert b"Limit the Use of My Sensitive Personal Information" in page.content
    done = client.post(
        reverse("consent:web-limit-sensitive"), {"csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    )
    device = done.cookies[web.DEVICE_COOKIE].value
    assert _state(device, "sensitive_pi_use") == Action.WITHDRAW
    assert _state(device, "advertising_pixels") is None


def test_a_bad_address_on_the_page_records_nothing(client):
    page = client.get(reverse("consent:web-do-not-sell"))
    bad = client.post(
        reverse("consent:web-do-not-sell"),
        {"csrfmiddlewaretoken": page.cookies["csrftoken"].value, "email": "nope"},
    )
    assert bad.status_code == 400 and b'role="alert"' in bad.content
    assert not ConsentEvent.objects.exists()


# --- consent.js and the demo ----------------------------------------------------------------------------


def test_consent_js_is_small_versioned_and_long_cached(client):
    body, version = web.script()
    assert len(gzip.compress(body)) <= 15 * 1024
    versioned = client.get(web.script_url())
    assert versioned.status_code == 200 and versioned["Content-Type"].startswith("text/javascript")
    assert "immutable" in versioned["Cache-Control"] and "max-age=31536000" in versioned["Cache-Control"]
    assert (
        client.get(reverse("consent:web-script-versioned", kwargs={"version": "0" * 12})).status_code == 404
    )
    assert "max-age=300" in client.get(reverse("consent:web-script"))["Cache-Control"]
    assert version in web.script_url()


def test_demo_page_exists_only_in_debug(client, settings):
    settings.DEBUG = True
    page = client.get(reverse("consent:web-demo"))
    assert page.status_code == 200 and web.script_url().encode() in page.content
    settings.DEBUG = False
    assert client.get(reverse("consent:web-demo")).status_code == 404


def test_banner_hash_changes_when_a_purpose_description_changes():
    before = web_banner(region="DE").sha256
    purpose_update(
        purpose=Purpose.objects.get(code="widgets"), changes={"description": "Embedded maps only."}
    )
    assert web_banner(region="DE").sha256 != before
