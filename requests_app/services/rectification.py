"""Rectification: corrected values entered sealed by an officer, applied to the subject's registered
records at fulfilment, recipients told (GDPR Art. 16, 19; Cal. Civ. Code §1798.106)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory import bulk, crypto
from inventory.registry import registry

from ..models import CaseEvent, PrivacyRequest, RecipientNotification, Rectification, RequestType, Status
from ..workflow import case_event, lock_case
from .officer_actions import request_complete
from .recipients import recipient_notifications_create


def rectifiable_fields(label: str) -> list[str]:
    entry = registry.by_label(label)
    subject_field = entry.subject.split("__")[0] if entry.subject else ""
    names = []
    for f in entry.model._meta.concrete_fields:
        if f.primary_key or f.is_relation or f.name in (subject_field, entry.collected_at):
            continue
        if f.editable or f.name in entry.encrypted_fields:
            names.append(f.name)
    return names


@transaction.atomic
def rectification_add(
    *,
    case: PrivacyRequest,
    model_label: str,
    field_name: str,
    value: str,
    record_id: int | None = None,
    actor: Actor,
) -> Rectification:
    """An officer enters a corrected value; it is sealed at once and applied when the case is fulfilled."""
    case = lock_case(case)
    if case.type != RequestType.RECTIFICATION:
        raise ValidationError("Corrected values belong on a rectification case.")
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS):
        raise ValidationError("The case is closed.")
    try:
        entry = registry.by_label(model_label)
    except KeyError as exc:
        raise ValidationError({"model_label": "Choose a registered kind of record."}) from exc
    if field_name not in rectifiable_fields(entry.label):
        raise ValidationError({"field_name": f"{field_name} can't be corrected on {entry.verbose_name}."})
    field = entry.model._meta.get_field(field_name)
    if field_name not in entry.encrypted_fields:
        try:
            field.clean(field.to_python(value), None)
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from exc
    if record_id is not None and not entry.for_subject(case.subject_id).filter(pk=record_id).exists():
        raise ValidationError({"record_id": "No such record of this subject."})
    item = Rectification(
        pk=bulk.reserve_ids(Rectification, 1)[0],  # the sealed value is bound to its row
        case=case,
        subject_id=case.subject_id,
        model_label=entry.label,
        field_name=field_name,
        record_id=record_id,
        created_at=timezone.now(),
        created_by=actor if hasattr(actor, "pk") else None,
    )
    item.new_value = crypto.seal_field(crypto.key_for_subject(case.subject_id), item, "new_value", str(value))
    item.save(force_insert=True)
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECTIFICATION,
        summary=f"Correction entered for {entry.label}.{field_name}",
        actor=actor,
        details={"model": entry.label, "field": field_name, "record_id": record_id},
    )
    return item


def rectification_apply(*, case: PrivacyRequest, actor: Actor = None) -> list[str]:
    """Apply the case's corrections to the subject's registered records; returns changed field names."""
    changed: list[str] = []
    with transaction.atomic():
        key = crypto.key_for_subject(case.subject_id)
        for item in case.rectifications.select_for_update().filter(applied_at__isnull=True):
            entry = registry.by_label(item.model_label)
            field = entry.model._meta.get_field(item.field_name)
            plain = crypto.open_field(key, item, "new_value")
            records = entry.for_subject(case.subject_id).select_for_update().order_by("pk")
            if item.record_id is not None:
                records = records.filter(pk=item.record_id)
            count = 0
            for record in records:
                if item.field_name in entry.encrypted_fields:
                    setattr(record, item.field_name, crypto.seal_field(key, record, item.field_name, plain))
                else:
                    setattr(record, item.field_name, field.to_python(plain))
                record.full_clean(exclude=list(entry.encrypted_fields))
                record.save()  # save(): derived columns (normalised emails) follow the new value
                count += 1
            Rectification.objects.filter(pk=item.pk).update(applied_at=timezone.now(), records_changed=count)
            name = f"{entry.label}.{item.field_name}"
            changed.append(name)
            case_event(
                case=case,
                kind=CaseEvent.Kind.RECTIFICATION,
                summary=f"Corrected {name} on {count} record(s)",
                actor=actor,
                details={"model": entry.label, "field": item.field_name, "records": count},
            )
            audit_record(
                action="record.rectified",
                actor=actor,
                target_type=entry.model._meta.label_lower,
                target_id=item.record_id or "",
                subject_id=case.subject_id,
                details={"field": item.field_name, "records": count, "reference": str(case.reference)},
            )
    return changed


def rectification_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    with transaction.atomic():
        changed = rectification_apply(case=case, actor=actor)
        recipient_notifications_create(
            case=case, action=RecipientNotification.Action.RECTIFICATION, fields_changed=changed
        )
        request_complete(case=case, actor=actor, outcome_note=f"{len(changed)} correction(s) applied.")
