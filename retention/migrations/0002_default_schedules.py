from django.db import migrations

from retention.defaults import DEFAULT_SCHEDULES


def seed(apps, schema_editor):
    DataCategory = apps.get_model("inventory", "DataCategory")
    RetentionSchedule = apps.get_model("retention", "RetentionSchedule")
    for code, label, months, days, anchor, action, citation, basis in DEFAULT_SCHEDULES:
        category = DataCategory.objects.get(code=code)
        RetentionSchedule.objects.get_or_create(
            category=category,
            model_label=label,
            system=None,
            source=None,
            is_default=True,
            defaults={
                "period_months": months,
                "period_days": days,
                "anchor": anchor,
                "action": action,
                "citation": citation,
                "legal_basis": basis,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial"), ("inventory", "0002_reference_data")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
