"""What the signed-in person sees: choices per purpose, their requests with due dates, released packages."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from consent.selectors import PurposeStatus, consent_overview
from requests_app.fulfilment import package_link
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
class PackageRow:
    file_name: str
    created_at: object
    expires_at: object
    url: str


@dataclass(frozen=True)
class CenterOverview:
    choices: list[PurposeStatus]
    cases: list[CaseRow]
    packages: list[PackageRow]


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
    packages = [
        PackageRow(
            file_name=p.file_name, created_at=p.created_at, expires_at=p.expires_at, url=package_link(p)
        )
        for p in AccessPackage.objects.filter(
            case__subject_id=subject_id, purged_at__isnull=True, expires_at__gt=now
        ).exclude(wrapped_key="")
    ]
    return CenterOverview(choices=choices, cases=cases, packages=packages)
