"""What the signed-in person sees: choices per purpose, their requests with due dates, released packages."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from consent.selectors import PurposeStatus, consent_overview
from requests_app.models import AccessPackage, PrivacyRequest
from requests_app.selectors import case_deadlines


@dataclass(frozen=True)
class CaseRow:
    reference: str
    type_label: str
    status_label: str
    received_on: date
    due_on: date | None
    closed: bool


@dataclass(frozen=True)
class CenterOverview:
    choices: list[PurposeStatus]
    cases: list[CaseRow]
    packages: list[AccessPackage]  # released and still downloadable; the view signs their links


def center_overview(*, subject_id: int) -> CenterOverview:
    """Everything the center page shows, in a handful of queries."""
    choices = [s for s in consent_overview(subject_id=subject_id) if s.status != "required"]
    cases = []
    for case in PrivacyRequest.objects.filter(subject_id=subject_id).order_by("-received_at")[:50]:
        deadlines = case_deadlines(case)
        cases.append(
            CaseRow(
                reference=str(case.reference)[:8],
                type_label=case.get_type_display(),
                status_label=case.get_status_display(),
                received_on=deadlines.received_on,
                due_on=deadlines.due_on,
                closed=deadlines.state == "closed",
            )
        )
    now = timezone.now()
    packages = list(
        AccessPackage.objects.filter(case__subject_id=subject_id, purged_at__isnull=True, expires_at__gt=now)
        .exclude(wrapped_key="")
        .order_by("-created_at")
    )
    return CenterOverview(choices=choices, cases=cases, packages=packages)


# --- Data Rights Protocol ----------------------------------------------------------------------------

# Our case status -> DRP status (DRP §3.02). Cases run directly by the business pass from open to
# in_progress at once; an agent's case waits in verification for the consumer's email link and the
# officer's check of the agent's authority.
_DRP_STATUS = {
    "received": "open",
    "verifying": "in_progress",
    "identity_in_doubt": "in_progress",
    "in_progress": "in_progress",
    "completed": "fulfilled",
    "denied": "denied",
    "withdrawn": "revoked",
}
_DRP_DENIAL_REASON = {
    "identity_not_verified": "insuf_verification",
    "no_authority": "insuf_verification",
    "no_data": "no_match",
    "frequency_limit": "too_many_requests",
    "exemption": "claim_not_covered",
}


def drp_status(drp) -> dict:
    """The DRP Exercise Status object (§3.03) of a request, read from its case."""
    case = drp.case
    status = _DRP_STATUS[case.status]
    body = {
        "request_id": str(drp.request_id),
        "received_at": drp.received_at.isoformat(),
        "status": status,
    }
    if drp.agent_request_id:
        body["agent_request_id"] = drp.agent_request_id
    if case.due_on and status in ("open", "in_progress"):
        body["expected_by"] = timezone.make_aware(
            timezone.datetime.combine(case.due_on, timezone.datetime.min.time())
        ).isoformat()
    if case.status == "verifying":
        body["processing_details"] = (
            "Waiting for the consumer to confirm by email and for us to check the agent's authority."
        )
    elif case.status == "identity_in_doubt":
        body["processing_details"] = "We need more information to verify the consumer's identity."
    elif status == "denied":
        body["reason"] = _DRP_DENIAL_REASON.get(case.denial_basis, "other")
        body["processing_details"] = case.get_denial_basis_display()
    return body
