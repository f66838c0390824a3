"""Erasure and a child's erasure: through retention's erasure engine (the registry), recipients told,
what the law keeps listed for the requester with its reason."""

from django.db import transaction

from core.actors import Actor
from inventory.registry import registry

from .. import gateways
from ..gateways import NoticeKinds
from ..models import CaseEvent, PrivacyRequest, RecipientNotification
from ..workflow import case_event, lock_case, update_case, verification_address
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
        kept = _kept_records(certificate)
        kept_total = sum(k["count"] for k in kept)
        update_case(case, erasure_certificate_id=certificate.pk)
        case_event(
            case=case,
            kind=CaseEvent.Kind.ERASURE,
            summary=f"Erased {certificate.erased_count} record(s) through the registry; {kept_total} kept "
            f"with reasons (certificate {_certificate_reference(certificate)[:8]})",
            actor=actor,
            details={
                "certificate_id": certificate.pk,
                "erased": certificate.erased_count,
                "kept": [{k: v for k, v in row.items() if k in ("model", "code", "count")} for row in kept],
                "key_destroyed": certificate.key_destroyed,
                "minor": minor,
            },
        )
        outcome = "Your personal data was erased."
        if kept:
            outcome += f" {kept_total} record(s) are kept where the law requires it: " + "; ".join(
                f"{k['description']}: {k['reason']}" for k in kept
            )
        request_complete(
            case=case,
            actor=actor,
            outcome_note=outcome,
            notice_kind=NoticeKinds.ERASURE_CONFIRMATION,
            notice_context={
                "certificate_reference": _certificate_reference(certificate),
                "kept_records": [
                    {"description": k.get("description", ""), "reason": k.get("reason", "")} for k in kept
                ],
            },
            to_email=confirm_to,
        )


def _certificate_reference(certificate) -> str:
    return str(getattr(certificate, "public_id", "") or f"#{certificate.pk}")


def _kept_records(certificate) -> list[dict]:
    """What the certificate says was kept, grouped per model and exception code (no personal data):
    `{"model", "count", "code", "description", "reason"}` for the case and the confirmation notice."""
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
