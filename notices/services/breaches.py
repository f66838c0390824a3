"""The breach register: record and change a breach, the authority and Attorney General records, closing.

Notifying the affected subjects is notices.services.breach_notification.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataCategory

from ..models import Breach, BreachStatus
from ..selectors import breach_clocks

SELECTION_KEYS = {"categories", "countries", "regions", "created_from", "created_to", "subject_ids"}
# Wording and selection are what subjects are told and who is told: frozen once notifying starts.
_FROZEN_WHEN_NOTIFYING = (
    "what_happened", "information_involved", "likely_consequences", "what_we_are_doing", "what_you_can_do",
    "for_more_information", "occurred_from", "occurred_until", "discovered_at", "selection",
)  # fmt: skip
REQUIRED_FOR_NOTICE = {
    "what_happened": "What Happened",
    "what_we_are_doing": "What We Are Doing",
    "what_you_can_do": "What You Can Do",
    "for_more_information": "For More Information",
}


_EDITABLE_BREACH_FIELDS = [
    f.name for f in Breach._meta.concrete_fields if f.editable and not f.primary_key and f.name != "status"
]


def breach_selection_clean(selection: Mapping[str, Any] | None) -> dict:
    """Normalise the stored query that selects affected subjects; refuse unknown keys and bad values."""
    selection = dict(selection or {})
    unknown = set(selection) - SELECTION_KEYS
    if unknown:
        raise ValidationError({"selection": f"Unknown selection keys: {', '.join(sorted(unknown))}."})
    clean: dict[str, Any] = {}
    codes = sorted({str(c).strip() for c in selection.get("categories") or [] if str(c).strip()})
    if codes:
        known = set(DataCategory.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            raise ValidationError(
                {"selection": f"Unknown data categories: {', '.join(sorted(set(codes) - known))}."}
            )
        clean["categories"] = codes
    for key, length in (("countries", 2), ("regions", 3)):
        values = sorted({str(v).strip().upper() for v in selection.get(key) or [] if str(v).strip()})
        if any(len(v) > length for v in values):
            raise ValidationError(
                {"selection": f"{key.title()} are ISO codes of at most {length} characters."}
            )
        if values:
            clean[key] = values
    for key in ("created_from", "created_to"):
        value = selection.get(key)
        if value:
            try:
                clean[key] = (
                    value if isinstance(value, date) else date.fromisoformat(str(value))
                ).isoformat()
            except ValueError as exc:
                raise ValidationError({"selection": f"{key} must be a date (YYYY-MM-DD)."}) from exc
    if clean.get("created_from") and clean.get("created_to") and clean["created_from"] > clean["created_to"]:
        raise ValidationError({"selection": "The creation date range ends before it starts."})
    ids = selection.get("subject_ids") or []
    try:
        clean_ids = sorted({int(i) for i in ids})
    except (TypeError, ValueError) as exc:
        raise ValidationError({"selection": "subject_ids must be subject ids (integers)."}) from exc
    if clean_ids:
        clean["subject_ids"] = clean_ids
    return clean


@transaction.atomic
def breach_save(
    *, breach: Breach, categories: Iterable[DataCategory | str] | None = None, actor: Actor = None
) -> Breach:
    """Record a new breach or change one in the register. Once subjects are being notified, the
    wording and the selection are frozen (they are what people were told, and who)."""
    created = breach.pk is None
    breach.selection = breach_selection_clean(breach.selection)
    breach.full_clean(exclude=["categories"])
    if not created:
        stored = Breach.objects.select_for_update().get(pk=breach.pk)
        if stored.status != BreachStatus.DRAFT:
            changed = [f for f in _FROZEN_WHEN_NOTIFYING if getattr(stored, f) != getattr(breach, f)]
            if changed:
                raise ValidationError(
                    "Subjects are already being notified: the notice wording and the selection can't change "
                    f"({', '.join(changed)})."
                )
        breach.status = stored.status  # status moves only through the notify services
        # Only what a person edits: progress is written concurrently by the batch task.
        breach.save(update_fields=[*_EDITABLE_BREACH_FIELDS, "updated_at"])
    else:
        if actor is not None and hasattr(actor, "pk"):
            breach.created_by = actor
        breach.save()
    if categories is not None:
        wanted = [
            c if isinstance(c, DataCategory) else DataCategory.objects.get(code=c)
            for c in categories  # codes or instances
        ]
        frozen = not created and breach.status != BreachStatus.DRAFT
        if frozen and {c.pk for c in wanted} != set(breach.categories.values_list("pk", flat=True)):
            raise ValidationError("Subjects are already being notified: the categories can't change.")
        breach.categories.set(wanted)
    audit_record(
        action="breach.recorded" if created else "breach.changed",
        actor=actor,
        target=breach,
        details={"status": breach.status, "authority_notified": breach.authority_notified_at is not None},
    )
    return breach


def breach_record(
    *,
    title: str,
    what_happened: str,
    discovered_at: datetime,
    aware_at: datetime | None = None,
    categories: Iterable[DataCategory | str] = (),
    selection: Mapping[str, Any] | None = None,
    actor: Actor = None,
    **details: Any,
) -> Breach:
    """Record a breach (GDPR Art. 33(5)). `details`: any other Breach field (wording, dates, ...)."""
    allowed = {f.name for f in Breach._meta.concrete_fields if f.editable} - {"id", "status", "selection"}
    unknown = set(details) - allowed
    if unknown:
        raise TypeError(f"Unknown breach fields: {', '.join(sorted(unknown))}")
    breach = Breach(
        title=title,
        what_happened=what_happened,
        discovered_at=discovered_at,
        aware_at=aware_at or discovered_at,
        selection=dict(selection or {}),
        **details,
    )
    return breach_save(breach=breach, categories=list(categories), actor=actor)


@transaction.atomic
def breach_record_authority_notification(
    *, breach_id: int, notified_at: datetime, reference: str = "", delay_reason: str = "", actor: Actor = None
) -> Breach:
    """GDPR Art. 33: when the supervisory authority was notified; after 72 hours, with the reasons."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    breach.authority_notified_at = notified_at
    breach.authority_reference = reference or breach.authority_reference
    breach.delay_reason = delay_reason or breach.delay_reason
    breach.full_clean(exclude=["categories"])
    breach.save(update_fields=["authority_notified_at", "authority_reference", "delay_reason", "updated_at"])
    late = notified_at > breach.eu_authority_due
    audit_record(action="breach.authority_notified", actor=actor, target=breach, details={"late": late})
    return breach


@transaction.atomic
def breach_record_ag_sample(*, breach_id: int, submitted_at: datetime, actor: Actor = None) -> Breach:
    """Cal. Civ. Code §1798.82(f): the sample notice was submitted to the Attorney General."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.notify_started_at is None:
        raise ValidationError("Submit the Attorney General sample after notifying the affected residents.")
    breach.ag_sample_submitted_at = submitted_at
    breach.save(update_fields=["ag_sample_submitted_at", "updated_at"])
    audit_record(action="breach.ag_sample_submitted", actor=actor, target=breach)
    return breach


@transaction.atomic
def breach_close(*, breach_id: int, actor: Actor = None) -> Breach:
    """Close a breach in the register once every clock is met or documented as not applicable."""
    breach = Breach.objects.select_for_update().get(pk=breach_id)
    if breach.status == BreachStatus.CLOSED:
        return breach
    if breach.status == BreachStatus.NOTIFYING:
        raise ValidationError(f"'{breach}' is still notifying subjects; close it when that has finished.")
    open_clocks = [c.label for c in breach_clocks(breach) if c.done_at is None and not c.exempt_reason]
    if open_clocks:
        raise ValidationError(
            f"'{breach}' can't be closed: {', '.join(open_clocks)} not done. Record the notification, or why it "
            "is not required."
        )
    breach.status = BreachStatus.CLOSED
    breach.save(update_fields=["status", "updated_at"])
    audit_record(action="breach.closed", actor=actor, target=breach)
    return breach
