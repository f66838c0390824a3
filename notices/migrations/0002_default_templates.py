from django.db import migrations

from notices.defaults import seed_default_templates


def seed(apps, schema_editor):
    """Version 1 of every kind's English template, unless one exists already (never overwrites edits)."""
    seed_default_templates(apps.get_model("notices", "NoticeTemplate"))


class Migration(migrations.Migration):
    dependencies = [("notices", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
