"""Issue 15 item 11: legacy Fernet evidence may be re-sealed as AES-256-GCM; the ledger stays append-only."""

from django.db import migrations

from audit.appendonly_reseal import AllowReseal


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0004_alter_consentevent_actor_label_and_more"),
    ]

    operations = [
        AllowReseal("consentevent", "evidence"),
    ]
