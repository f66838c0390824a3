"""The §1798.83 settings row and the data-category → statutory-category mapping (officer edits, audited)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from core.actors import Actor, actor_label

from .. import rules, selectors
from ..models import CategoryMapping, DisclosureSettings

SETTINGS_FIELDS = {
    "employee_count",
    "opt_out_route_enabled",
    "business_name",
    "business_postal_address",
    "designated_postal_address",
    "designated_email",
    "designated_phone",
    "show_same_brand_affiliate_count",
}


@transaction.atomic
def disclosure_settings_update(*, actor: Actor = None, **changes: Any) -> DisclosureSettings:
    """Change the §1798.83 settings; the audit event records which fields changed and the gate's state."""
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise ValidationError("Unknown settings: %(names)s.", params={"names": ", ".join(sorted(unknown))})
    selectors.disclosure_settings()
    obj = DisclosureSettings.objects.select_for_update().get(pk=1)
    changed = sorted(name for name, value in changes.items() if getattr(obj, name) != value)
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.updated_by_label = actor_label(actor)
    obj.full_clean()
    obj.save()
    audit_record(
        action="disclosures.settings_changed",
        actor=actor,
        target=obj,
        details={
            "changed": changed,
            "employee_count": obj.employee_count,
            "required": rules.feature_required(obj.employee_count),
            "opt_out_route_enabled": obj.opt_out_route_enabled,
        },
    )
    return obj


@transaction.atomic
def category_mapping_save(*, mapping: CategoryMapping, actor: Actor = None) -> CategoryMapping:
    """Create or change one mapping row (admin). Logged disclosures keep the categories they had."""
    created = mapping.pk is None
    mapping.full_clean()
    mapping.save()
    audit_record(
        action="disclosures.mapping_created" if created else "disclosures.mapping_changed",
        actor=actor,
        target=mapping,
        details={
            "data_category": mapping.data_category.code,
            "field": mapping.field,
            "statutory_category": mapping.statutory_category,
        },
    )
    return mapping


@transaction.atomic
def category_mapping_delete(*, mapping: CategoryMapping, actor: Actor = None) -> None:
    """Remove one mapping row (admin); the audit keeps what it said, since the row is gone."""
    details = {
        "data_category": mapping.data_category.code,
        "field": mapping.field,
        "statutory_category": mapping.statutory_category,
    }
    pk = mapping.pk
    mapping.delete()
    audit_record(
        action="disclosures.mapping_deleted",
        actor=actor,
        target_type="disclosures.categorymapping",
        target_id=pk,
        details=details,
    )
