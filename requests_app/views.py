"""Public pages: the request form, the verification link, the case status link and the download link.

No account is needed. Every link is a signed token that names one case or package; nothing here takes a
case id from the URL, so one person's link never shows another person's case.
"""

from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.ratelimit import window_count
from core.throttling import over_limit

from . import conf, services
from .decoy import decoy_case, decoy_status_link
from .forms import IntakeForm
from .models import Channel, PrivacyRequest
from .selectors import case_deadlines

PUBLIC_FIELDS = (
    "request_type", "regime", "subject_email", "subject_name", "subject_phone", "description",
    "requester_kind", "requester_name", "requester_email", "authority_document", "signed_declaration",
)  # fmt: skip


def _count(key: str, window: int) -> int:
    return window_count(cache, key, window)


def _recipient_capped(data: dict) -> bool:
    """Per-recipient cap on mail to unverified addresses (the subject's and an agent's), counted under a
    keyed hash so the shared cache holds no address."""
    limit, window = conf.unverified_mail_cap()
    addresses = {a.strip().lower() for a in (data.get("subject_email"), data.get("requester_email")) if a}
    counts = [
        _count(f"requests_app:mailcap:{salted_hmac('mailcap', a).hexdigest()}", window)
        for a in sorted(addresses)
    ]
    return any(c > limit for c in counts)


def _rate_limited(request: HttpRequest) -> bool:
    """Fixed window per client (IPv4 address or IPv6 /64, behind TRUSTED_PROXY_COUNT proxies)."""
    limit, window = conf.intake_rate()
    return over_limit(request, "requests_app:intake", limit=limit, window=window)


@never_cache
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest) -> HttpResponse:
    form = IntakeForm(request.POST or None)
    if request.method == "POST":
        if _rate_limited(request):
            return render(
                request,
                "requests_app/message.html",
                {
                    "title": "Too many requests",
                    "message": "We received several requests from your connection in a short time. Please wait "
                    "an hour and try again, or email or call our privacy team.",
                },
                status=429,
            )
        if form.is_valid():
            data = form.cleaned_data
            if data.get("website") or _recipient_capped(data):
                # A bot filled the honeypot, or these addresses got their share of unverified mail:
                # answer exactly like a real submission, store and send nothing.
                return redirect(decoy_status_link(data))
            try:
                # The same work for every subject, known or not: the case opens in a task (issue 15 item 2).
                submission = services.public_intake_submit(
                    channel=Channel.WEB,
                    **{name: data[name] for name in PUBLIC_FIELDS},
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items() if hasattr(exc, "error_dict") else []:
                    form.add_error(field if field in form.fields else None, messages)
                if not hasattr(exc, "error_dict"):
                    form.add_error(None, exc.messages)
            else:
                return redirect(
                    decoy_status_link(
                        data, reference=submission.reference, received_at=submission.received_at
                    )
                )
    return render(request, "requests_app/intake.html", {"form": form})


def _case_from_status_token(token: str) -> PrivacyRequest:
    try:
        payload = signing.loads(token, salt=services.STATUS_SALT)
    except signing.BadSignature as exc:
        raise Http404("Unknown link") from exc
    case = PrivacyRequest.objects.filter(reference=payload.get("r")).first() or decoy_case(payload)
    if case is None:
        raise Http404("Unknown link")
    return case


@never_cache
def status(request: HttpRequest, token: str) -> HttpResponse:
    case = _case_from_status_token(token)
    return render(
        request,
        "requests_app/status.html",
        {"case": case, "deadlines": case_deadlines(case), "contact": conf.contact_email()},
    )


_LINK_MESSAGES = {
    "expired": (
        "This link has expired",
        "For your security, confirmation links work for a limited time. You can ask for a new one below; "
        "it goes to the same address.",
    ),
    "used": ("This link was already used", "Your request is confirmed already; there is nothing else to do."),
    "superseded": ("A newer link was sent", "Please use the most recent email we sent you."),
    "closed": ("Nothing to confirm", "This request no longer needs confirming."),
    "invalid": ("This link is not valid", "Please copy the whole link from the email, or contact us."),
}


def _link_problem(request: HttpRequest, code: str, token: str, status_code: int) -> HttpResponse:
    title, message = _LINK_MESSAGES.get(code, _LINK_MESSAGES["invalid"])
    return render(
        request,
        "requests_app/link_problem.html",
        {"title": title, "message": message, "can_resend": code == "expired", "token": token},
        status=status_code,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners pre-fetch links: a GET must not use up a single-use link)."""
    try:
        if request.method == "GET":
            services.verification_token_read(token)
            return render(request, "requests_app/verify.html", {"token": token})
        case = services.verification_confirm(token=token)
    except services.VerificationLinkError as exc:
        return _link_problem(
            request, exc.code or "invalid", token, 410 if exc.code in ("expired", "used") else 400
        )
    return render(
        request,
        "requests_app/message.html",
        {
            "title": "Thank you: you are confirmed",
            "message": "We are working on your request.",
            "status_url": services.status_link(case),
        },
    )


@never_cache
@require_http_methods(["POST"])
def verify_resend(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.verification_resend_expired(token=token)
    except services.VerificationLinkError as exc:
        return _link_problem(request, exc.code or "invalid", token, 400)
    return render(
        request,
        "requests_app/message.html",
        {"title": "New link sent", "message": "We sent a new confirmation link to the address we hold."},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def download(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "requests_app/download.html", {"token": token})
    try:
        package, data = services.package_open(token=token)
    except ValidationError as exc:
        return render(
            request,
            "requests_app/message.html",
            {"title": "Download not available", "message": " ".join(exc.messages)},
            status=410 if exc.code in ("expired", "exhausted") else 400,
        )
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{str(package.public_id)[:8]}.zip"'
    response["Cache-Control"] = "no-store"
    return response
