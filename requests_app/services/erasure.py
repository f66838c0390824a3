"""Erasure and a child's erasure: through retention's erasure engine (the registry), recipients told.

The reply names what was erased, what was kept and under which exception (GDPR Art. 12(4), 17(3);
Cal. Civ. Code §1798.105(d); 11 CCR §7022(f)). When a legal hold kept records, the case is not
"completed": it waits for the hold's release (`deferred_erasure.py`), which resumes the erasure.
"""

from django.db import transaction

from core.actors import Actor
from inventory.registry import registry

from .. import gateways, policy
from ..gateways import NoticeKinds
from ..models import CaseEvent, PrivacyRequest, RecipientNotification, Regime
from ..workflow import case_event, lock_case, update_case, verification_address
from .deferred_erasure import erasure_defer
from .officer_actions import request_complete
from .recipients import recipient_notifications_create


def erasure_fulfil(case: PrivacyRequest, actor: Actor, heartbeat, *, minor: bool = False) -> None:
    # Other systems first, while the identities they are looked up by still exist here; the case
    # can't complete until every one is done or waived (a refusal leaves the case for a retry).
    gateways.connectors_gate(case=case, action="erasure", actor=actor)
    with transaction.atomic():
        case = lock_case(case)
        confirm_to = verification_address(case)
        recipient_notifications_create(case=case, action=RecipientNotification.Action.ERASURE)
        certificate = gateways.erase_subject(
            subject_id=case.subject_id,
            actor=actor,
            reason=f"Privacy request {case.reference} ({case.type})",
            case_reference=str(case.reference),
            minor=minor,
        )
        kept = kept_records(certificate, regime=case.regime)
        kept_total = sum(k["count"] for k in kept)
        update_case(case, erasure_certificate_id=certificate.pk)
        case_event(
            case=case,
            kind=CaseEvent.Kind.ERASURE,
            summary=f"Erased {certificate.erased_count} record(s) through the registry; {kept_total} kept "
            f"with reasons (certificate {certificate_reference(certificate)[:8]})",
            actor=actor,
            details={
                "certificate_id": certificate.pk,
                "erased": certificate.erased_count,
                "kept": [{k: v for k, v in row.items() if k in ("model", "code", "count")} for row in kept],
                "key_destroyed": certificate.key_destroyed,
                "minor": minor,
            },
        )
        outcome = erasure_outcome(erased=certificate.erased_count, kept=kept)
        if kept:
            erasure_defer(
                case=case,
                actor=actor,
                outcome=outcome,
                certificate=certificate,
                kept=kept,
                to_email=confirm_to,
            )
            return
        request_complete(
            case=case,
            actor=actor,
            outcome_note=outcome,
            notice_kind=NoticeKinds.ERASURE_CONFIRMATION,
            notice_context={"certificate_reference": certificate_reference(certificate), "kept_records": []},
            to_email=confirm_to,
        )


def erasure_outcome(*, erased: int, kept: list[dict]) -> str:
    """The reply's words: never "your personal data was erased" when records were kept."""
    if not kept:
        return f"Your personal data was erased ({erased} record(s))."
    kept_total = sum(k["count"] for k in kept)
    return (
        f"{erased} record(s) of your personal data were erased. {kept_total} record(s) are kept where "
        "the law requires it, and will be erased when that reason ends: "
        + "; ".join(f"{k['description']}: {k['reason']}" for k in kept)
    )


def certificate_reference(certificate) -> str:
    return str(getattr(certificate, "public_id", "") or f"#{certificate.pk}")


def kept_records(certificate, *, regime: str = Regime.GDPR) -> list[dict]:
    """What the certificate says was kept, grouped per model and exception code (no personal data):
    `{"model", "count", "code", "description", "reason"}` for the case and the notices. A CCPA (or
    §1798.83) requester also reads the California exception that applies."""
    from retention.models import ExceptionCode

    groups: dict[tuple[str, str], int] = {}
    for row in (certificate.summary or {}).get("kept", []):
        key = (row.get("model", ""), row.get("code", ""))
        groups[key] = groups.get(key, 0) + 1
    kept = []
    for (label, code), count in sorted(groups.items()):
        try:
            name = registry.by_label(label).verbose_name
        except KeyError:
            name = label
        reason = ExceptionCode(code).label if code in ExceptionCode.values else code
        if regime in (Regime.CCPA, Regime.CAL_1798_83) and code in policy.CCPA_ERASURE_EXCEPTIONS:
            reason += f" (CCPA: {policy.CCPA_ERASURE_EXCEPTIONS[code]})"
        kept.append(
            {
                "model": label,
                "code": code,
                "count": count,
                "description": f"{name} ({count})",
                "reason": reason,
            }
        )
    return kept


def minor_erasure_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    erasure_fulfil(case, actor, heartbeat, minor=True)
