from django.db import migrations

from disclosures import reference


def seed(apps, schema_editor):
    DataCategory = apps.get_model("inventory", "DataCategory")
    CategoryMapping = apps.get_model("disclosures", "CategoryMapping")
    DisclosureSettings = apps.get_model("disclosures", "DisclosureSettings")
    categories = {c.code: c for c in DataCategory.objects.all()}
    for code, field, statutory, note in reference.CATEGORY_MAPPING:
        if code not in categories:
            continue  # a category the inventory no longer seeds: nothing to map
        CategoryMapping.objects.get_or_create(
            data_category=categories[code], field=field, statutory_category=statutory, defaults={"note": note}
        )
    DisclosureSettings.objects.get_or_create(
        id=1,
        defaults={
            "business_name": reference.BUSINESS_NAME,
            "business_postal_address": reference.BUSINESS_POSTAL_ADDRESS,
            "designated_postal_address": reference.BUSINESS_POSTAL_ADDRESS,
            "designated_email": reference.DESIGNATED_EMAIL,
            "designated_phone": reference.DESIGNATED_PHONE,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("disclosures", "0001_initial"), ("inventory", "0002_reference_data")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
