"""Opt-outs reach the company's other systems: every system that declares an unsubscribe operation.

Called from the one place every withdrawal is written (consent_events_record_bulk), so a withdrawal made
by link, in the admin, the privacy center, the API or a CSV import is told to the CRM and the email
platform as well as to our own ledger (CAN-SPAM §7704(a)(4); GDPR Art. 21(3)). A case's own opt-out
passes `propagate_opt_outs=False`: the case runs its systems itself.
"""

from collections.abc import Iterable, Mapping

from core.actors import Actor
from inventory.models import DataSubject

from ..models import Action, Purpose
from .inputs import EventRow


def opt_out_systems(*, subject_id: int, actor: Actor = None) -> int:
    """connectors.services.opt_out_propagate for a subject: their address and phone are looked up there
    (sealed on the run, never in a task argument). Returns how many systems were told."""
    from connectors.services import opt_out_propagate

    subject = DataSubject.objects.only("email_normalized", "phone", "erased_at").get(pk=subject_id)
    if subject.erased_at is not None:
        return 0
    identities = {"email": [subject.email_normalized] if subject.email_normalized else [],
                  "phone_number": [subject.phone] if subject.phone else []}  # fmt: skip
    if not any(identities.values()):
        return 0
    return len(opt_out_propagate(identities=identities, subject_id=subject_id, actor=actor))


def opt_outs_propagate(rows: Iterable[EventRow], *, purposes: Mapping[str, Purpose], actor: Actor) -> int:
    """Tell the systems about each subject who withdrew a marketing purpose in these rows; the count told.

    A grant turned into a withdrawal by the suppression list is not told again: the address was never
    subscribed by it. Nothing is looked up when no system declares an unsubscribe operation.
    """
    from connectors.services import unsubscribe_systems

    subject_ids = sorted(
        {
            r.item.subject_id
            for r in rows
            if r.action == Action.WITHDRAW and not r.suppressed and purposes[r.item.purpose].is_marketing
        }
    )
    if not subject_ids or not unsubscribe_systems():
        return 0
    return sum(opt_out_systems(subject_id=sid, actor=actor) for sid in subject_ids)
