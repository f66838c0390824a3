"""Decisions recorded on a breach after it is registered: a documented California delay, the Art. 34 decision.

Both may come while subjects are already being notified (the wording freeze does not apply), both are
audited, and both are shown on the breach's page (issue 14 item 13; docs/regulations.md, "Breaches").
"""

from datetime import datetime

from django.db import transaction

from audit.services import audit_record
from core.actors import Actor

from ..models import Art34Decision, Breach, CaDelayKind


@transaction.atomic
def breach_record_ca_delay(
    *,
    breach_id: int,
    kind: str,
    reason: str,
    delay_from: datetime,
    delay_until: datetime | None = None,
    actor: Actor = None,
) -> Breach:
    """Document a delay of the California residents' notices; it pauses the 30-day clock for its dates.

    Cal. Civ. Code §1798.82(c) (a law enforcement agency's request) and §1798.82(a) (the time needed to
    determine the scope of the breach and restore the system's integrity), as amended by SB 446.
    """
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    breach.ca_delay_kind = kind
    breach.ca_delay_reason = reason.strip()
    breach.ca_delay_from = delay_from
    breach.ca_delay_until = delay_until
    if kind == CaDelayKind.LAW_ENFORCEMENT:
        breach.law_enforcement_delay = True
        breach.law_enforcement_note = breach.law_enforcement_note or breach.ca_delay_reason
    breach.full_clean(exclude=["categories"])
    breach.save(
        update_fields=[
            "ca_delay_kind", "ca_delay_reason", "ca_delay_from", "ca_delay_until", "law_enforcement_delay",
            "law_enforcement_note", "updated_at",
        ]
    )  # fmt: skip
    audit_record(
        action="breach.ca_delay_recorded",
        actor=actor,
        target=breach,
        details={
            "kind": kind,
            "from": delay_from.isoformat(),
            "until": delay_until.isoformat() if delay_until else "",
        },
    )
    return breach


@transaction.atomic
def breach_record_art34_decision(
    *, breach_id: int, decision: str, reason: str = "", actor: Actor = None
) -> Breach:
    """GDPR Art. 34: notify the data subjects, or which ground (no high risk, Art. 34(3)(a)-(c)) and why."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    breach.art34_decision = decision
    breach.art34_reason = reason.strip()
    breach.full_clean(exclude=["categories"])
    breach.save(update_fields=["art34_decision", "art34_reason", "updated_at"])
    audit_record(
        action="breach.art34_decided",
        actor=actor,
        target=breach,
        details={"decision": decision, "label": str(Art34Decision(decision).label)},
    )
    return breach
