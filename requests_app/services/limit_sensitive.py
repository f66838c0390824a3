"""CCPA request to limit the use of sensitive personal information (Cal. Civ. Code §1798.121; 11 CCR §7027).

Not a verifiable consumer request, answered within 15 business days (§7027(g)): the purposes that use
sensitive personal information beyond what §7027(m) allows are withdrawn on the consent ledger, the
timeline says which, and the closing notice tells the consumer.
"""

from django.db import transaction

from core.actors import Actor

from .. import gateways, policy
from ..models import CaseEvent, PrivacyRequest
from ..workflow import case_event
from .officer_actions import request_complete


def limit_sensitive_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    """Withdraw the sensitive-PI purposes, record it on the case, complete it with the notice."""
    purposes = list(policy.LIMIT_SENSITIVE_PURPOSES)
    with transaction.atomic():
        gateways.consent_withdraw_purposes(
            subject_id=case.subject_id,
            purposes=purposes,
            channel=policy.CONSENT_CHANNEL[case.channel],
            actor=actor,
            evidence={
                "reference": str(case.reference),
                "note": f"Request to limit the use of sensitive personal information ({case.channel}); "
                "Cal. Civ. Code §1798.121; 11 CCR §7027",
            },
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.FULFILMENT,
            summary=f"Use of sensitive personal information limited: withdrew {', '.join(purposes)}",
            actor=actor,
            details={"purposes": purposes},
        )
        request_complete(
            case=case,
            actor=actor,
            outcome_note="We now use your sensitive personal information only as needed to provide the "
            "services you ask for and for the other purposes 11 CCR §7027(m) allows; we stopped using it "
            "for advertising, analytics and sharing with marketing partners.",
        )
