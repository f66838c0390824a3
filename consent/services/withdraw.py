"""Withdrawing consent now (one purpose, several, or all marketing), with one opt-out confirmation."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.actors import Actor

from ..models import Action, ConsentEvent, ConsentState, Purpose
from .inputs import BulkRecordRejected, ConsentEventInput
from .record import consent_events_record_bulk


@transaction.atomic
def consent_withdraw(
    *,
    subject_id: int,
    purpose: str,
    channel: str,
    actor: Actor = None,
    evidence: Mapping[str, Any] | None = None,
) -> ConsentEvent:
    """Withdraw consent now (GDPR Art. 7(3), 21(3)) and confirm it with the opt-out notice.

    Idempotent: when the current state is already a withdrawal, the existing event is returned and
    nothing is recorded or sent. The state row is locked so two clicks can't both record.
    """
    (event,) = consent_withdraw_purposes(
        subject_id=subject_id, purposes=[purpose], channel=channel, actor=actor, evidence=evidence
    )
    return event


@transaction.atomic
def consent_withdraw_purposes(
    *,
    subject_id: int,
    purposes: Sequence[str],
    channel: str,
    actor: Actor = None,
    evidence: Mapping[str, Any] | None = None,
    propagate: bool = True,
) -> list[ConsentEvent]:
    """Withdraw several purposes at once (an objection, an opt-out request) with one confirmation.

    A new withdrawal of a marketing purpose also reaches the other systems that declare an unsubscribe
    operation (one connectors run each, started on commit; ids only). A case passes `propagate=False`:
    it plans its own per-case runs.

    Idempotent like `consent_withdraw`: purposes already withdrawn keep their event and are neither
    recorded again nor confirmed again. The state rows are locked so two clicks can't both record.
    Returns the current withdrawal event of each purpose, in the order given.
    """
    codes = list(dict.fromkeys(purposes))
    found = {p.code: p for p in Purpose.objects.filter(code__in=codes)}
    for code in codes:
        if code not in found:
            raise ValidationError(f"Unknown purpose '{str(code)[:40]}'.")
        if found[code].required:
            raise ValidationError(
                f"'{found[code].name}' is required to provide the Services and can't be withdrawn."
            )
    states = {
        state.purpose_id: state
        for state in ConsentState.objects.select_for_update()
        .filter(subject_id=subject_id, purpose__code__in=codes)
        .select_related("event")
    }
    done = {
        code: states[found[code].pk].event
        for code in codes
        if found[code].pk in states and states[found[code].pk].action == Action.WITHDRAW
    }
    todo = [code for code in codes if code not in done]
    if todo:
        items = [
            ConsentEventInput(
                subject_id=subject_id,
                purpose=code,
                action=Action.WITHDRAW,
                channel=channel,
                evidence=evidence,
            )
            for code in todo
        ]
        try:
            result = consent_events_record_bulk(
                events=items, source="", actor=actor, notify_withdrawals=True, propagate_opt_outs=propagate
            )
        except BulkRecordRejected as exc:
            raise ValidationError(next(iter(exc.item_errors.values()))) from exc
        recorded = ConsentEvent.objects.select_related("purpose").in_bulk(
            [item.event_id for item in result.items]
        )
        for code, item in zip(todo, result.items, strict=True):
            done[code] = recorded[item.event_id]
    return [done[code] for code in codes]


@transaction.atomic
def consent_withdraw_all_marketing(
    *, subject_id: int, channel: str, actor: Actor = None, evidence: Mapping[str, Any] | None = None
) -> list[ConsentEvent]:
    """Objection to direct marketing (GDPR Art. 21(3)): withdraw every marketing purpose at once."""
    return consent_withdraw_purposes(
        subject_id=subject_id,
        purposes=list(
            Purpose.objects.filter(is_marketing=True, required=False, active=True)
            .order_by("code")
            .values_list("code", flat=True)
        ),
        channel=channel,
        actor=actor,
        evidence=evidence,
    )
