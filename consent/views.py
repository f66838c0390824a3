"""Public unsubscribe pages: no login, a signed token in the link (RFC 8058 one-click POST and a GET page).

GET never changes anything (mail scanners prefetch links); POST withdraws at once. A bad, expired or
tampered token gets a clear page with status 400 and changes nothing.
"""

import contextlib
import ipaddress

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.client_ip import client_ip
from inventory.models import DataSubject

from . import conf
from .models import Channel, Purpose
from .selectors import consent_is_current
from .services import consent_withdraw, consent_withdraw_all_marketing
from .tokens import ExpiredToken, InvalidToken, read_token

ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")  # RFC 8058 §3.1


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(
        request, template, {"opt_out_email": conf.marketing_opt_out_email(), **context}, status=status
    )
    # The token is a credential: keep it out of caches, search engines and Referer headers.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    return _page(request, "consent/unsubscribe_invalid.html", {"reason": reason}, status=400)


def _evidence(request: HttpRequest, how: str) -> dict:
    evidence = {"reference": how, "user_agent": request.META.get("HTTP_USER_AGENT", "")}
    with contextlib.suppress(ValueError):  # no usable address: the withdrawal counts all the same
        evidence["ip"] = str(ipaddress.ip_address(client_ip(request)))
    return evidence


@csrf_exempt  # the signed token authenticates the request; RFC 8058 senders carry no CSRF cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        claim = read_token(token)
    except ExpiredToken:
        return _refuse(request, "expired")
    except InvalidToken:
        return _refuse(request, "invalid")
    subject = DataSubject.objects.filter(public_id=claim.subject_public_id).only("pk", "erased_at").first()
    purpose = Purpose.objects.filter(code=claim.purpose, required=False).first()
    if subject is None or purpose is None:
        return _refuse(request, "invalid")
    context = {"purpose": purpose, "token": token}

    if request.method == "GET":
        context["already"] = subject.erased_at is not None or not consent_is_current(
            subject_id=subject.pk, purpose=purpose.code
        )
        return _page(request, "consent/unsubscribe.html", context)

    one_click = request.POST.get(ONE_CLICK_BODY[0]) == ONE_CLICK_BODY[1]
    scope = "purpose" if one_click else request.POST.get("scope", "")
    if scope not in ("purpose", "all_marketing"):
        return _refuse(request, "request")
    if subject.erased_at is not None:
        return _page(request, "consent/unsubscribe_done.html", {**context, "scope": scope})
    how = "one-click (RFC 8058)" if one_click else "unsubscribe page"
    try:
        with transaction.atomic():
            if scope == "all_marketing":
                consent_withdraw_all_marketing(
                    subject_id=subject.pk,
                    channel=Channel.EMAIL_LINK,
                    actor="unsubscribe-link",
                    evidence=_evidence(request, how),
                )
            else:
                consent_withdraw(
                    subject_id=subject.pk,
                    purpose=purpose.code,
                    channel=Channel.EMAIL_LINK,
                    actor="unsubscribe-link",
                    evidence=_evidence(request, how),
                )
    except ValidationError:
        return _refuse(request, "invalid")
    return _page(request, "consent/unsubscribe_done.html", {**context, "scope": scope})
