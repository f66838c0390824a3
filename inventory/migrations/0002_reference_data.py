from django.db import migrations

from inventory.reference import DATA_CATEGORIES, ROLES, SOURCES, SYSTEMS


def seed(apps, schema_editor):
    DataCategory = apps.get_model("inventory", "DataCategory")
    Source = apps.get_model("inventory", "Source")
    System = apps.get_model("inventory", "System")
    Group = apps.get_model("auth", "Group")
    for code, name, sensitivity, ref, description in DATA_CATEGORIES:
        DataCategory.objects.update_or_create(
            code=code,
            defaults={"name": name, "sensitivity": sensitivity, "policy_reference": ref, "description": description},
        )
    for code, name, ref, description in SOURCES:
        Source.objects.update_or_create(
            code=code, defaults={"name": name, "policy_reference": ref, "description": description}
        )
    for code, name, kind, owner, description in SYSTEMS:
        System.objects.update_or_create(
            code=code, defaults={"name": name, "kind": kind, "owner": owner, "description": description}
        )
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
