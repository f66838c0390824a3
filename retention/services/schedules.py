"""Retention schedules: which records are kept how long, and validation against the registry."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataCategory, Source, System
from inventory.registry import registry

from ..models import Action, RetentionSchedule
from ..selectors import actions_allowed, forecast, schedule_entries

SCHEDULE_FIELDS = (
    "category",
    "model_label",
    "system",
    "source",
    "period_months",
    "period_days",
    "anchor",
    "action",
    "external_collection",
    "external_timestamp_field",
    "legal_basis",
    "citation",
    "is_default",
    "active",
)


def retention_schedule_check(schedule: RetentionSchedule) -> None:
    """Refuse a schedule the registry can't carry out, or one that duplicates an active schedule's scope."""
    schedule.full_clean()
    if schedule.external_collection:
        _check_external(schedule)
        return
    code = schedule.category.code
    in_category = [e for e in registry.for_category(code) if not e.append_only]
    if not in_category:
        raise ValidationError(
            {"category": f"No record kind holds '{schedule.category}' data that a sweep may erase."}
        )
    errors: dict[str, list[str]] = {}
    _check_model_label(schedule, in_category, errors)
    if not errors:
        _check_anchor_and_action(schedule, in_category, errors)
    if schedule.active and _has_active_twin(schedule):
        errors.setdefault("__all__", []).append(
            "Another active schedule already covers exactly this scope; edit that one instead."
        )
    if errors:
        raise ValidationError(errors)


def _check_external(schedule: RetentionSchedule) -> None:
    """An external schedule names a connected SQL system whose datasets hold the collection and field."""
    from connectors.selectors import external_target_check

    if schedule.system_id is None or not schedule.external_timestamp_field:
        raise ValidationError("An external collection needs its system and a timestamp field.")
    if schedule.model_label or schedule.source_id:
        raise ValidationError("An external schedule is scoped by its system and collection only.")
    external_target_check(
        system=schedule.system,
        collection=schedule.external_collection,
        timestamp_field=schedule.external_timestamp_field,
    )
    twin = RetentionSchedule.objects.filter(
        active=True, system_id=schedule.system_id, external_collection=schedule.external_collection
    ).exclude(pk=schedule.pk)
    if schedule.active and twin.exists():
        raise ValidationError(
            "Another active schedule already sweeps this collection; edit that one instead."
        )


def _check_model_label(schedule: RetentionSchedule, in_category: list, errors: dict[str, list[str]]) -> None:
    """A model label must name a kind of record of the category; it is normalised to the registry's case."""
    if not schedule.model_label:
        return
    labels = {e.label.lower(): e for e in in_category}
    if schedule.model_label.lower() not in labels:
        errors.setdefault("model_label", []).append(
            f"'{schedule.model_label}' is not a kind of record in this category. "
            f"Choose one of: {', '.join(sorted(e.label for e in in_category))}."
        )
    else:
        schedule.model_label = labels[schedule.model_label.lower()].label


def _check_anchor_and_action(
    schedule: RetentionSchedule, in_category: list, errors: dict[str, list[str]]
) -> None:
    """Some record in scope must record the anchor event, and each must support the action."""
    entries = schedule_entries(schedule)
    if not entries:
        anchors = sorted({a for e in in_category for a in e.timestamp_fields})
        errors.setdefault("anchor", []).append(
            f"No record in this scope records the event '{schedule.anchor}'. Events available: "
            f"{', '.join(anchors)}."
        )
    for entry in entries:
        if schedule.action not in actions_allowed(entry):
            choices = ", ".join(Action(a).label.lower() for a in actions_allowed(entry))
            errors.setdefault("action", []).append(
                f"{entry.verbose_name.capitalize()} can't be erased that way; possible: {choices}."
                + (" (Set 'model label' to narrow the schedule.)" if not schedule.model_label else "")
            )


def _has_active_twin(schedule: RetentionSchedule) -> bool:
    return (
        RetentionSchedule.objects.filter(
            active=True,
            category_id=schedule.category_id,
            model_label__iexact=schedule.model_label,
            system_id=schedule.system_id,
            source_id=schedule.source_id,
            external_collection="",
        )
        .exclude(pk=schedule.pk)
        .exists()
    )


def _schedule_snapshot(schedule: RetentionSchedule) -> dict[str, Any]:
    return {
        name: getattr(schedule, f"{name}_id")
        if name in ("category", "system", "source")
        else getattr(schedule, name)
        for name in SCHEDULE_FIELDS
    }


def _would_erase(schedule: RetentionSchedule) -> int:
    return sum(f.would_erase for f in forecast(schedules=[schedule]))


@transaction.atomic
def retention_schedule_create(
    *,
    category: DataCategory,
    period_months: int = 0,
    period_days: int = 0,
    anchor: str = "collected",
    action: str = Action.DELETE,
    legal_basis: str,
    citation: str,
    model_label: str = "",
    system: System | None = None,
    source: Source | None = None,
    external_collection: str = "",
    external_timestamp_field: str = "",
    is_default: bool = False,
    active: bool = True,
    actor: Actor = None,
) -> RetentionSchedule:
    """Add a schedule; the audit event records what it would erase at once.

    With `external_collection` (and `system`, `external_timestamp_field`) it targets another system's
    collection: sweeps erase its expired rows through the connectors engine."""
    schedule = RetentionSchedule(
        category=category,
        model_label=model_label.strip(),
        system=system,
        source=source,
        external_collection=external_collection.strip(),
        external_timestamp_field=external_timestamp_field.strip(),
        period_months=period_months,
        period_days=period_days,
        anchor=anchor.strip(),
        action=action,
        legal_basis=legal_basis.strip(),
        citation=citation.strip(),
        is_default=is_default,
        active=active,
    )
    retention_schedule_check(schedule)
    schedule.save()
    audit_record(
        action="retention.schedule.created",
        actor=actor,
        target=schedule,
        details={"schedule": _schedule_snapshot(schedule), "would_erase_now": _would_erase(schedule)},
    )
    return schedule


@transaction.atomic
def retention_schedule_update(*, schedule_id: int, actor: Actor = None, **changes: Any) -> RetentionSchedule:
    """Change a schedule (period, anchor, action, scope, basis, active...). Audited with before/after."""
    unknown = set(changes) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown schedule fields: {', '.join(sorted(unknown))}.")
    schedule = RetentionSchedule.objects.select_for_update().get(pk=schedule_id)
    before = _schedule_snapshot(schedule)
    for name, value in changes.items():
        setattr(schedule, name, value.strip() if isinstance(value, str) else value)
    retention_schedule_check(schedule)
    after = _schedule_snapshot(schedule)
    changed = {k: {"from": before[k], "to": after[k]} for k in SCHEDULE_FIELDS if before[k] != after[k]}
    if not changed:
        return schedule
    schedule.save()
    audit_record(
        action="retention.schedule.updated",
        actor=actor,
        target=schedule,
        details={"changes": changed, "would_erase_now": _would_erase(schedule) if schedule.active else 0},
    )
    return schedule
