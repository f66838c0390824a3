"""Issue 15 review: the ledger's re-sealing exception accepts only a well-formed Fernet token replaced by a
well-formed AES-GCM token of the same plaintext length, nothing else changing (audit.appendonly_reseal)."""

from django.db import migrations

from audit.appendonly_reseal import NarrowReseal


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0007_merge_20261203_1710"),
    ]

    operations = [
        NarrowReseal("consentevent", "evidence"),
    ]
