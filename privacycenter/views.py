"""Server-rendered privacy center pages: usable without JavaScript, no account, a signed emailed link.

GET never changes anything (mail scanners prefetch links): opening the link shows a button, and the
POST behind it uses the link once and starts a short session holding only the subject id.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from consent.web import DEVICE_COOKIE, visitor_region
from core.client_ip import client_ip
from core.throttling import over_limit
from requests_app.models import RequestType
from requests_app.services import package_link

from . import conf, services
from .selectors import center_overview

SESSION_KEY = "privacycenter_subject"
SESSION_UNTIL = "privacycenter_until"


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


def _rate_limited(request: HttpRequest) -> bool:
    """Fixed window per client (IPv4 address or IPv6 /64, behind TRUSTED_PROXY_COUNT proxies)."""
    limit, window = conf.link_rate_limit()
    return over_limit(request, "privacycenter:link", limit=limit, window=window)


def _signed_in(request: HttpRequest) -> int | None:
    subject_id = request.session.get(SESSION_KEY)
    until = request.session.get(SESSION_UNTIL)
    if not subject_id or not until or datetime.fromisoformat(until) < datetime.now().astimezone():
        return None
    return int(subject_id)


@never_cache
@require_http_methods(["GET", "POST"])
def ask_link(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. The answer is the same whether or not we hold the address."""
    context: dict = {"email": ""}
    if request.method == "POST":
        context["email"] = (request.POST.get("email") or "").strip()[:254]
        if _rate_limited(request):
            context["error"] = "We received several requests from your connection; please try again later."
            return _page(request, "privacycenter/ask.html", context, status=429)
        try:
            services.center_link_send(email=context["email"])
        except ValidationError as exc:
            context["error"] = exc.messages[0]
            return _page(request, "privacycenter/ask.html", context, status=400)
        return _page(
            request, "privacycenter/sent.html", {"minutes": int(conf.link_max_age().total_seconds() // 60)}
        )
    return _page(request, "privacycenter/ask.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def enter(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return _page(request, "privacycenter/enter.html", {})
    try:
        subject_id = services.center_link_use(token=token)
    except services.CenterLinkError as exc:
        return _page(request, "privacycenter/invalid.html", {"message": exc.messages[0]}, status=400)
    request.session.cycle_key()
    request.session[SESSION_KEY] = subject_id
    request.session[SESSION_UNTIL] = (datetime.now().astimezone() + conf.session_max_age()).isoformat()
    if request.headers.get("Sec-GPC", "").strip() == "1":
        services.center_gpc_apply(
            subject_id=subject_id,
            device_id=request.COOKIES.get(DEVICE_COOKIE),
            region=visitor_region(request),
        )
    return redirect("privacycenter:home")


@never_cache
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    subject_id = _signed_in(request)
    if subject_id is None:
        return redirect("privacycenter:ask")
    overview = center_overview(subject_id=subject_id)
    return _page(
        request,
        "privacycenter/home.html",
        {
            "overview": overview,
            "packages": [
                {"file_name": p.file_name, "expires_at": p.expires_at, "url": package_link(p)}
                for p in overview.packages
            ],
            "request_types": [(t.value, t.label) for t in RequestType if t in services.FILEABLE],
            "message": request.session.pop("privacycenter_message", ""),
        },
    )


@require_POST
def choice(request: HttpRequest) -> HttpResponse:
    subject_id = _signed_in(request)
    if subject_id is None:
        return redirect("privacycenter:ask")
    try:
        services.center_choice_set(
            subject_id=subject_id,
            purpose=request.POST.get("purpose", ""),
            allowed=request.POST.get("allowed") == "1",
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ValidationError as exc:
        request.session["privacycenter_message"] = exc.messages[0]
    else:
        request.session["privacycenter_message"] = "Your choice is saved."
    return redirect("privacycenter:home")


@require_POST
def file_request(request: HttpRequest) -> HttpResponse:
    subject_id = _signed_in(request)
    if subject_id is None:
        return redirect("privacycenter:ask")
    try:
        case = services.center_request_file(
            subject_id=subject_id,
            request_type=request.POST.get("request_type", ""),
            description=request.POST.get("description", ""),
        )
    except ValidationError as exc:
        request.session["privacycenter_message"] = exc.messages[0]
    else:
        request.session["privacycenter_message"] = (
            f"Request {str(case.reference)[:8]} received and already verified; we will email you."
        )
    return redirect("privacycenter:home")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("privacycenter:ask")
