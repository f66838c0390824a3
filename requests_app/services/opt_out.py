"""Opt-out: the regime's marketing and sharing purposes are withdrawn on the consent ledger."""

from django.db import transaction

from core.actors import Actor

from .. import gateways, policy
from ..models import CaseEvent, PrivacyRequest
from ..workflow import case_event
from .officer_actions import request_complete


def opt_out_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    purposes = policy.OPT_OUT_PURPOSES[case.regime]
    with transaction.atomic():
        gateways.consent_withdraw_purposes(
            subject_id=case.subject_id,
            purposes=list(purposes),
            channel=policy.CONSENT_CHANNEL[case.channel],
            actor=actor,
            # The consent ledger's evidence keys (consent.evidence): the case reference and a note.
            evidence={
                "reference": str(case.reference),
                "note": f"Privacy request ({case.type}) received by {case.channel}; "
                "GDPR Art. 21(3); Cal. Civ. Code §1798.120, §1798.135",
            },
        )
        gateways.connectors_opt_out(case=case, actor=actor)  # other systems' unsubscribe operations
        case_event(
            case=case,
            kind=CaseEvent.Kind.FULFILMENT,
            summary=f"Consent withdrawn for {', '.join(purposes)}",
            actor=actor,
            details={"purposes": list(purposes)},
        )
        request_complete(
            case=case, actor=actor, outcome_note="Marketing stopped: your opt-out took effect at once."
        )
