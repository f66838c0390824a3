"""Demo activity for every screen, on top of `seed_demo`'s subjects (issue 16): cases in each status and
regime with their timelines, consent grants and withdrawals, last year's direct-marketing disclosures with
the notices customers asked for, a finished retention sweep with its certificate, an outbox with sent,
pending and failed notices, and a breach with its clocks running. Everything goes through the services (so timelines,
audit events and notices are real) and is deterministic for a given seed.

It lives in the project package because it calls every app (the apps only import down the stack).
"""

import random
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from consent.services import consent_grant, consent_withdraw
from disclosures.services import disclosure_batch_record, notice_1798_83_deliver
from inventory.models import DataSubject, ThirdParty
from notices.models import NoticeKind
from notices.services import breach_record, notice_deliver, notice_enqueue
from requests_app.models import DenialBasis, Regime, RequestType
from requests_app.services import (
    request_create,
    request_deny,
    request_fulfil,
    request_mark_identity_in_doubt,
    request_verify_manually,
    request_withdraw,
)
from retention.models import SweepRun
from retention.services import sweep_execute, sweep_request

ACTOR = "demo"
# (type, regime, where the case is taken): one case each, so every status and regime shows.
CASES: tuple[tuple[str, str, str], ...] = (
    (RequestType.ACCESS, Regime.GDPR, "new"),
    (RequestType.ERASURE, Regime.CCPA, "verifying"),
    (RequestType.ACCESS, Regime.CCPA, "in_doubt"),
    (RequestType.RECTIFICATION, Regime.GDPR, "in_progress"),
    (RequestType.ACCESS, Regime.GDPR, "completed"),
    (RequestType.ERASURE, Regime.GDPR, "completed"),
    (RequestType.NOTICE_1798_83, Regime.CAL_1798_83, "new"),
    (RequestType.OPT_OUT, Regime.CCPA, "new"),
    (RequestType.PORTABILITY, Regime.OTHER, "denied"),
    (RequestType.RESTRICTION, Regime.GDPR, "withdrawn"),
    (RequestType.MINOR_DELETION, Regime.COPPA, "verifying"),
)


@dataclass
class ActivityReport:
    cases: dict[str, int] = field(default_factory=dict)  # final status -> count
    consent_events: int = 0
    disclosures: int = 0
    notices_1798_83: int = 0
    notices_failed: int = 0
    sweeps: int = 0
    breaches: int = 0


def seed_activity(*, seed: int = 1) -> ActivityReport:
    """Create the demo activity; the same seed over the same subjects gives the same activity."""
    rng = random.Random(seed)
    people = list(DataSubject.objects.filter(erased_at__isnull=True, is_minor=False).order_by("pk")[:400])
    if len(people) < 40:
        raise ValueError("seed_activity needs at least 40 demo subjects: run seed_demo first.")
    report = ActivityReport()
    _cases(rng, report)
    _consent(rng, people[:30], report)
    _disclosures(rng, people[30:60], report)
    _sweep(report)
    _bounced_notice(report)
    breach_record(
        title="Demo: laptop lost in transit",
        what_happened="A sales laptop with a CRM export was lost; the disk was encrypted.",
        discovered_at=timezone.now() - timedelta(hours=20),
        actor=ACTOR,
    )
    report.breaches = 1
    return report


def _cases(rng: random.Random, report: ActivityReport) -> None:
    for n, (request_type, regime, goal) in enumerate(CASES, start=1):
        case = request_create(
            request_type=request_type,
            regime=regime,
            channel=rng.choice(["email", "web", "phone"]),
            subject_email=f"demo.requester{n}@example.com",
            subject_name=f"Demo Requester {n}",
            description="Demo case.",
            actor=ACTOR,
        )
        case = _take_to(case, goal)
        report.cases[case.status] = report.cases.get(case.status, 0) + 1


def _take_to(case, goal: str):
    if goal in ("new", "verifying"):  # intake sends the verification link (opt-outs start at once)
        return case
    if goal == "in_doubt":
        return request_mark_identity_in_doubt(
            case=case, reason="The phone number does not match.", actor=ACTOR
        )
    if goal == "denied":
        return request_deny(
            case=case, basis=DenialBasis.NO_DATA, reason="We hold no personal data about you.", actor=ACTOR
        )
    if goal == "withdrawn":
        return request_withdraw(case=case, reason="The requester withdrew by phone.", actor=ACTOR)
    case = request_verify_manually(
        case=case, method="phone", level="high", reason="Called back.", actor=ACTOR
    )
    case.refresh_from_db()
    if goal == "completed" and case.status == "in_progress" and not case.attempts.exists():
        request_fulfil(case=case, actor=ACTOR)  # eager in `make run`: runs now
        case.refresh_from_db()
    return case


def _consent(rng: random.Random, people: list[DataSubject], report: ActivityReport) -> None:
    for person in people:
        consent_grant(subject_id=person.pk, purpose="marketing_email", channel="web_form", actor=ACTOR)
        report.consent_events += 1
        if rng.random() < 0.3:
            consent_withdraw(
                subject_id=person.pk, purpose="marketing_email", channel="email_link", actor=ACTOR
            )
            report.consent_events += 1


def _disclosures(rng: random.Random, people: list[DataSubject], report: ActivityReport) -> None:
    partners = list(ThirdParty.objects.filter(kind=ThirdParty.Kind.MARKETING_PARTNER).order_by("pk")[:2])
    last_year = timezone.now().year - 1
    for i, partner in enumerate(partners):
        result = disclosure_batch_record(
            third_party_id=partner.pk,
            purpose="direct_marketing",
            subject_ids=[p.pk for p in people],
            statutory_categories=["email", "telephone_number"] if i else ["email"],
            disclosed_at=datetime(last_year, 3 + 4 * i, 15, 12, tzinfo=UTC),
            agreement_reference=f"DEMO-{last_year}-{i + 1}",
            actor=ACTOR,
        )
        report.disclosures += result.batch.member_count
    for person in rng.sample(people, 3):
        notice_1798_83_deliver(subject_id=person.pk, year=last_year)
        report.notices_1798_83 += 1


def _sweep(report: ActivityReport) -> None:
    run = sweep_request(actor=ACTOR, trigger=SweepRun.Trigger.COMMAND, dispatch=False)
    sweep_execute(run_id=run.pk)
    report.sweeps = 1


BOUNCED_ADDRESS = "privacy-team@demo.invalid"  # RFC 2606: a domain that can never receive mail


class BouncingEmailBackend(BaseEmailBackend):
    """The mail server's answer to an address that does not exist: 550 for every recipient."""

    def send_messages(self, email_messages):
        refused = {
            to: (550, b"5.1.1 Recipient address rejected: mailbox unavailable")
            for m in email_messages
            for to in m.to
        }
        raise smtplib.SMTPRecipientsRefused(refused)


def _bounced_notice(report: ActivityReport) -> None:
    """A failed notice for the outbox screen: delivered once through the delivery service against a server
    that refuses the address (550), so it is recorded as a real permanent failure, audit event included.
    Enqueue and delivery share one transaction: the after-commit dispatch then finds nothing to claim."""
    with transaction.atomic():
        notice = notice_enqueue(
            kind=NoticeKind.OPERATIONS_REPORT,
            idempotency_key="demo:operations-report:bounced",
            context={
                "title": "Weekly privacy operations report",
                "summary": "Sent to a team address that no longer exists.",
                "items": [],
                "link": "",
            },
            to_email=BOUNCED_ADDRESS,
            actor=ACTOR,
        )
        outcome = notice_deliver(notice_id=notice.pk, backend=f"{__name__}.BouncingEmailBackend")
    report.notices_failed += outcome.result == "failed"
