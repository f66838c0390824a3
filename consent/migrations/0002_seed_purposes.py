from django.db import migrations

from consent.reference import PURPOSES


def seed(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    DataCategory = apps.get_model("inventory", "DataCategory")
    for row in PURPOSES:
        row = dict(row)
        categories = row.pop("data_categories")
        purpose, _ = Purpose.objects.update_or_create(code=row.pop("code"), defaults=row)
        purpose.data_categories.set(DataCategory.objects.filter(code__in=categories))


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial"), ("inventory", "0002_reference_data")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
