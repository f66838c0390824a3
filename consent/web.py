"""The website side of consent: consent.js, its JSON endpoint, the CCPA opt-out pages and the demo page.

- GET  web/consent.js, web/consent.<hash>.js   the script (the hashed URL is cached for a year)
- GET  web/config                               banner, purposes and the device's state (CORS)
- POST web/choice                               record a choice (CORS, rate limited, JSON)
- GET/POST web/do-not-sell, web/limit-sensitive the §1798.135 pages, working without JavaScript
- GET  web/demo                                 DEBUG only: a page embedding consent.js like the website

The endpoint answers only configured origins (conf.web_allowed_origins, plus its own), refuses bad
input with a 4xx and records nothing then. Personal data never goes into logs or error messages.
The script, config and choice views are public endpoints (core.public_endpoints): they use no session,
sign-in, CSRF token or messages, so they skip that middleware; the opt-out pages (forms) keep it all.
"""

import hashlib
import json
from functools import cache
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.client_ip import client_ip
from core.public_endpoints import public_endpoint
from core.throttling import over_limit
from inventory.selectors import subject_find_by_email

from . import conf
from .models import Channel, Purpose
from .services import ConsentEventInput, consent_events_record_bulk, suppression_add, web_choice_record
from .web_models import WebRule
from .web_selectors import OPT_OUT, banner_hashes, normalise_region, web_banner, web_device_state

SCRIPT_PATH = Path(__file__).resolve().parent / "static" / "consent" / "consent.js"
MAX_BODY = 8 * 1024
DEVICE_COOKIE = "po_device"  # the back office's own cookie, for the opt-out pages reached without one


@cache
def script() -> tuple[bytes, str]:
    """consent.js and the first 12 hex digits of its SHA-256 (the version in its long-cache URL)."""
    body = SCRIPT_PATH.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


def script_url() -> str:
    """The versioned URL to put in the website's one script tag."""
    return reverse("consent:web-script-versioned", kwargs={"version": script()[1]})


# --- request helpers -------------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    # X-Forwarded-For counts only as far as TRUSTED_PROXY_COUNT says (core.client_ip).
    return client_ip(request)


def visitor_region(request: HttpRequest) -> str:
    """The visitor's region from the proxy header (conf.web_region_header), else the documented default."""
    return normalise_region(request.headers.get(conf.web_region_header(), "")) or conf.web_default_region()


def _gpc_header(request: HttpRequest) -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


def _rate_limited(request: HttpRequest, bucket: str) -> bool:
    """Fixed window per client (IPv4 address or IPv6 /64, behind TRUSTED_PROXY_COUNT proxies)."""
    limit, window = conf.web_rate_limit()
    return over_limit(request, f"consent:web:{bucket}", limit=limit, window=window)


def _origin_allowed(request: HttpRequest) -> str | None:
    """The request's Origin when it may call us (configured, or our own host), else None."""
    origin = request.headers.get("Origin", "")
    if not origin:
        return None
    if origin in conf.web_allowed_origins():
        return origin
    own = f"{request.scheme}://{request.get_host()}"
    return origin if origin == own else None


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
    return response


def _error(status: int, message: str, origin: str | None, code: str = "invalid") -> JsonResponse:
    return _cors(JsonResponse({"error": code, "detail": message}, status=status), origin)


# --- the script --------------------------------------------------------------------------------------


def _script_response(max_age: int) -> HttpResponse:
    body, version = script()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={max_age}" + (", immutable" if max_age > 3600 else "")
    response["ETag"] = f'"{version}"'
    response["Access-Control-Allow-Origin"] = "*"  # a public script; reading it reveals nothing
    response["X-Content-Type-Options"] = "nosniff"
    return response


@public_endpoint
@require_http_methods(["GET", "HEAD"])
def consent_script(request: HttpRequest) -> HttpResponse:
    """The unversioned URL: a short cache, so sites embedding it pick up a new version within minutes."""
    return _script_response(300)


@public_endpoint
@require_http_methods(["GET", "HEAD"])
def consent_script_versioned(request: HttpRequest, version: str) -> HttpResponse:
    if version != script()[1]:
        raise Http404("No such version of consent.js.")
    return _script_response(conf.web_script_max_age())


# --- the JSON endpoint ---------------------------------------------------------------------------------


def _device_param(raw: str) -> str:
    try:
        return str(UUID(raw)) if raw else ""
    except ValueError:
        return ""


@public_endpoint  # no session, sign-in, CSRF or messages: the short middleware chain
@never_cache
@csrf_exempt  # cross-origin JSON: CORS and the Origin check protect it, a CSRF cookie can't exist
@require_http_methods(["GET", "OPTIONS"])
def config(request: HttpRequest) -> HttpResponse:
    """The banner for the visitor's region and the device's current state (no writes)."""
    origin = _origin_allowed(request)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204 if origin else 403), origin)
    if origin is None and request.headers.get("Origin"):
        return _error(403, "This origin may not use the consent endpoint.", None, "origin")
    region = visitor_region(request)
    gpc = _gpc_header(request) or request.GET.get("gpc") == "1"
    banner = web_banner(region=region)
    state = web_device_state(device_id=_device_param(request.GET.get("device", "")), region=region, gpc=gpc)
    payload = {
        "region": region,
        "model": banner.model,
        "banner": {
            "sha256": banner.sha256,
            "wording": banner.wording,
            "purposes": banner.purposes,
            "policy_version": banner.policy_version,
            "policy_url": banner.policy_url,
            "do_not_sell_url": request.build_absolute_uri(reverse("consent:web-do-not-sell"))
            if banner.model == OPT_OUT
            else "",
        },
        "gpc": gpc,
        "state": {
            "device_id": state.device_id,
            "choices": state.choices,
            "chosen": sorted(state.chosen),
            "gpc_recorded": state.gpc_recorded,
        },
        "choice_url": request.build_absolute_uri(reverse("consent:web-choice")),
    }
    return _cors(JsonResponse(payload), origin)


def _parse_choice(request: HttpRequest, *, current_sha256: str) -> dict:
    if len(request.body) > MAX_BODY:
        raise ValidationError("The request is too large.", code="too_large")
    if request.content_type != "application/json":
        raise ValidationError("Send JSON (Content-Type: application/json).", code="content_type")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("The body is not valid JSON.", code="json") from exc
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", code="json")
    choices = data.get("choices", {})
    if not isinstance(choices, dict) or len(choices) > 20:
        raise ValidationError(
            "'choices' must be an object of web purpose keys to true/false.", code="choices"
        )
    for flag in ("gpc", "conflict_acknowledged"):
        if not isinstance(data.get(flag, False), bool):
            raise ValidationError(f"'{flag}' must be true or false.", code=flag)
    banner = data.get("banner_sha256", "")
    # The banner of the visitor's region is the one they saw; the other model's is accepted too (a
    # region header that changed between page load and choice), anything else is stale.
    if not isinstance(banner, str) or (banner != current_sha256 and banner not in banner_hashes()):
        raise ValidationError(
            "The banner changed since this page loaded; reload the page and choose again.", code="banner"
        )
    device = data.get("device_id") or ""
    if not isinstance(device, str) or (device and not _device_param(device)):
        raise ValidationError("The device id is not valid.", code="device_id")
    language = data.get("language", "en")
    if not isinstance(language, str) or len(language) > 10:
        raise ValidationError("The language code is not valid.", code="language")
    return {**data, "choices": choices, "device_id": device, "banner_sha256": banner, "language": language}


@public_endpoint  # no session, sign-in, CSRF or messages: the short middleware chain
@csrf_exempt  # cross-origin JSON: CORS and the Origin check protect it, a CSRF cookie can't exist
@require_http_methods(["POST", "OPTIONS"])
def choice(request: HttpRequest) -> HttpResponse:
    """Record a visitor's choice for their device: 200 with the state, or a 4xx and nothing recorded."""
    origin = _origin_allowed(request)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204 if origin else 403), origin)
    if origin is None:
        return _error(403, "This origin may not use the consent endpoint.", None, "origin")
    if _rate_limited(request, "choice"):
        return _error(
            429, "Too many choices from this network; try again in a minute.", origin, "rate_limited"
        )
    region = visitor_region(request)
    banner = web_banner(region=region)
    try:
        data = _parse_choice(request, current_sha256=banner.sha256)
    except ValidationError as exc:
        return _error(400, exc.messages[0], origin, exc.code or "invalid")
    keys = {p["key"]: p["code"] for p in banner.purposes if not p["required"]}
    unknown = sorted(str(k)[:20] for k in data["choices"] if k not in keys)
    if unknown:
        return _error(400, f"Unknown web purposes: {', '.join(unknown)}.", origin, "purpose")
    gpc = bool(data.get("gpc")) or _gpc_header(request)
    try:
        result = web_choice_record(
            device_id=data["device_id"] or None,
            choices={keys[k]: v for k, v in data["choices"].items()},
            banner_sha256=data["banner_sha256"],
            gpc=gpc,
            conflict_acknowledged=bool(data.get("conflict_acknowledged")),
            region=region,
            policy_version=banner.policy_version,
            ip=_client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            language=data["language"],
        )
    except ValidationError as exc:
        return _error(400, exc.messages[0], origin, getattr(exc, "code", None) or "invalid")
    state = web_device_state(device_id=result.device_id, region=region, gpc=gpc, states=result.states)
    return _cors(
        JsonResponse(
            {
                "device_id": result.device_id,
                "choices": state.choices,
                "chosen": sorted(state.chosen),
                "gpc_honoured": gpc,
                "conflict": result.conflict,
                "rules": result.rules,
                "receipts": result.receipts,
            }
        ),
        origin,
    )


# --- the opt-out pages (no JavaScript needed) ---------------------------------------------------------

OPT_OUT_PAGES = {
    "do_not_sell": {
        "title": "Do Not Sell or Share My Personal Information",
        "flag": "sale_or_sharing",
        "rule": WebRule.DO_NOT_SELL,
        "collection_point": "do-not-sell-page",
        "template": "consent/web/opt_out.html",
    },
    "limit_sensitive": {
        "title": "Limit the Use of My Sensitive Personal Information",
        "flag": "sensitive_use",
        "rule": WebRule.LIMIT_SENSITIVE,
        "collection_point": "limit-sensitive-page",
        "template": "consent/web/opt_out.html",
    },
}


def _opt_out_page(request: HttpRequest, kind: str) -> HttpResponse:
    page = OPT_OUT_PAGES[kind]
    purposes = list(Purpose.objects.filter(active=True, required=False, **{page["flag"]: True}))
    device = _device_param(request.POST.get("device") or request.GET.get("device") or "") or _device_param(
        request.COOKIES.get(DEVICE_COOKIE, "")
    )
    context = {
        "page": page,
        "kind": kind,
        "purposes": purposes,
        "device": device,
        "gpc": _gpc_header(request),
    }
    status = 200
    if request.method == "POST":
        email = (request.POST.get("email") or "").strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                context["error"] = "That doesn't look like an email address; leave it empty or correct it."
        if _rate_limited(request, "page"):
            context["error"] = "We received several requests from your connection; please wait a minute."
            status = 429
        if "error" not in context:
            region = visitor_region(request)
            codes = [p.code for p in purposes]
            with transaction.atomic():
                result = web_choice_record(
                    device_id=device or None,
                    choices=dict.fromkeys(codes, False),
                    gpc=_gpc_header(request),
                    region=region,
                    policy_version=web_banner(region=region).policy_version,
                    ip=_client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                    channel=Channel.WEB_FORM,
                    collection_point=page["collection_point"],
                    rule=page["rule"],
                )
                if email:
                    _opt_out_address(
                        email=email, codes=codes, collection_point=page["collection_point"], request=request
                    )
            context.update(done=True, device=result.device_id)
            response = render(request, page["template"], context)
            _set_device_cookie(request, response, result.device_id)
            return _private(response)
        status = status if status != 200 else 400
    return _private(render(request, page["template"], context, status=status))


def _opt_out_address(*, email: str, codes: list[str], collection_point: str, request: HttpRequest) -> None:
    """Opt the person out too when we hold them; an unknown address is suppressed (a keyed hash only).

    The answer is the same either way, so the page reveals nothing about who we hold.
    """
    person = subject_find_by_email(email)
    if person is not None and person.erased_at is None:
        consent_events_record_bulk(
            events=[
                ConsentEventInput(
                    subject_id=person.pk,
                    purpose=code,
                    action="withdraw",
                    channel=Channel.WEB_FORM,
                    collection_point=collection_point,
                    evidence={"ip": _client_ip(request)} if _client_ip(request) else None,
                )
                for code in codes
            ],
            source="",
            actor="website",
            notify_withdrawals=True,
        )
    else:
        suppression_add(email=email, purposes=codes, actor="website")


def _set_device_cookie(request: HttpRequest, response: HttpResponse, device_id: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device_id,
        max_age=395 * 24 * 3600,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    # same-origin, not no-referrer: with no-referrer the browser posts the form with "Origin: null",
    # which CSRF protection rightly refuses; the device id in the URL still never leaves the site.
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def do_not_sell(request: HttpRequest) -> HttpResponse:
    """§1798.135(a)(1): opt out of sale/sharing, no account needed; by device and, if given, by address."""
    return _opt_out_page(request, "do_not_sell")


@never_cache
@require_http_methods(["GET", "POST"])
def limit_sensitive(request: HttpRequest) -> HttpResponse:
    """§1798.135(a)(2), §1798.121: limit the use of sensitive personal information."""
    return _opt_out_page(request, "limit_sensitive")


# --- the demo page -----------------------------------------------------------------------------------


@require_http_methods(["GET"])
def demo(request: HttpRequest) -> HttpResponse:
    """DEBUG only: a page embedding consent.js as the company website does, with tags gated on consent."""
    if not settings.DEBUG:
        raise Http404("The demo page exists only in development.")
    return render(request, "consent/web/demo.html", {"script_url": script_url()})
