"""Issue 15 item 11: legacy Fernet notes may be re-sealed as AES-256-GCM; the timeline stays append-only."""

from django.db import migrations

from audit.appendonly_reseal import AllowReseal


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0002_alter_caseevent_actor_label"),
    ]

    operations = [
        AllowReseal("caseevent", "note"),
    ]
