from django.db import migrations


def narrow(apps, schema_editor):
    # The marketing category now also holds the consent app's current-consent rows and re-consent
    # requests; the company default was about marketing preferences only. Leave an edited row alone.
    RetentionSchedule = apps.get_model("retention", "RetentionSchedule")
    RetentionSchedule.objects.filter(
        category__code="marketing", is_default=True, model_label="", system=None, source=None
    ).update(model_label="inventory.MarketingPreference")


class Migration(migrations.Migration):
    dependencies = [("retention", "0002_default_schedules")]

    operations = [migrations.RunPython(narrow, migrations.RunPython.noop)]
