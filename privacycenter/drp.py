"""Data Rights Protocol 0.9.4 endpoints for authorized agents (e.g. Consumer Reports' Permission Slip).

Mounted under /privacycenter/drp/:
- GET    business.json                       our Business Discovery Document (DRP §3.05.2)
- POST   v1/agent/<agent-id>                 pair-wise key setup: a signed message gets a bearer token
- GET    v1/agent/<agent-id>                 is my token still valid?
- POST   v1/data-rights-request              file a request (signed, bearer token)
- GET    v1/data-rights-request/<uuid>       its status, read from the case
- DELETE v1/data-rights-request/<uuid>       revoke it while open
Errors follow DRP §3.06: {"code": "<http status>", "message": ..., "fatal": ...}.
"""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.organisation import organisation
from core.throttling import over_limit

from . import conf, services
from .models import DrpRequest
from .selectors import drp_status

MAX_BODY = 16 * 1024


def _error(status: int, message: str, fatal: bool = True) -> JsonResponse:
    return JsonResponse({"code": str(status), "message": message, "fatal": fatal}, status=status)


def _throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The shared per-client limit (core.throttling) before any signature or token work."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        limit, window = conf.drp_rate_limit()
        if over_limit(request, "privacycenter:drp", limit=limit, window=window):
            return _error(429, "Too many requests from this client; try again later.", fatal=False)
        return view(request, *args, **kwargs)

    return wrapper


def _bearer(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    return services.drp_agent_for_token(token)


def _body(request: HttpRequest) -> bytes:
    if len(request.body) > MAX_BODY:
        raise services.DrpError(413, "The message is too large.")
    return request.body


@require_http_methods(["GET"])
def business(request: HttpRequest) -> HttpResponse:
    org = organisation()
    return JsonResponse(
        {
            "id": services.drp_business_id().upper().replace(".", "_").replace("-", "_").replace(":", "_"),
            "name": org.name,
            "logo": None,
            "api_base": request.build_absolute_uri(reverse("privacycenter:drp-base")),
            "supported_actions": ["access", "deletion", "sale:opt_out"],
            "supported_verifications": ["email"],
            "privacy_policy_url": org.policy_url,
            "web_url": org.website,
            "technical_contact": org.privacy_email,
            "business_contact": org.privacy_email,
        }
    )


@_throttled
@csrf_exempt  # agents authenticate with signed messages and bearer tokens, never cookies
@require_http_methods(["GET", "POST"])
def agent(request: HttpRequest, agent_id: str) -> HttpResponse:
    if request.method == "GET":
        found = _bearer(request)
        if found is None or found.agent_id != agent_id:
            return HttpResponse(status=403)
        return JsonResponse({})
    try:
        found, token = services.drp_agent_token_issue(agent_id=agent_id, body=_body(request))
    except services.DrpError:
        return HttpResponse(status=403)  # DRP §2.05.1: 403 with no body
    return JsonResponse({"agent-id": found.agent_id, "token": token})


@_throttled
@csrf_exempt
@require_http_methods(["POST"])
def exercise(request: HttpRequest) -> HttpResponse:
    agent_ = _bearer(request)
    if agent_ is None:
        return _error(403, "Unknown or revoked bearer token.")
    try:
        drp = services.drp_request_submit(agent=agent_, body=_body(request))
    except services.DrpError as exc:
        return _error(exc.status, exc.message, exc.fatal)
    except services.ValidationError as exc:
        return _error(400, exc.messages[0])
    return JsonResponse(drp_status(drp))


@_throttled
@csrf_exempt
@require_http_methods(["GET", "DELETE"])
def request_status(request: HttpRequest, request_id: UUID) -> HttpResponse:
    agent_ = _bearer(request)
    if agent_ is None:
        return _error(403, "Unknown or revoked bearer token.")
    drp = DrpRequest.objects.select_related("case", "agent").filter(request_id=request_id).first()
    if drp is None or drp.agent_id != agent_.pk:
        return _error(403, "This request is not managed by this agent.")  # DRP §2.02.1
    if request.method == "DELETE":
        try:
            body = _body(request)
            reason = ""
            if body.strip():
                reason = str(
                    services.drp_verify_signed(agent=agent_, body=body, envelope=False).get("reason") or ""
                )
            drp = services.drp_request_revoke(drp=drp, reason=reason)
        except services.DrpError as exc:
            return _error(exc.status, exc.message, exc.fatal)
    return JsonResponse(drp_status(drp))
