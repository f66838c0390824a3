"""`manage.py reseal_legacy_values [--batch-size N]`: re-seal Fernet-era values as AES-256-GCM bound to their row.

Thin wrapper over inventory.reseal (batches in short transactions; rerun after an interruption and
it carries on with what is left). Prints counts only, never values.
"""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from inventory.reseal import legacy_values_count, legacy_values_reseal


class Command(BaseCommand):
    help = "Re-seal values sealed with Fernet (before issue 15) as AES-256-GCM bound to table, column, row, subject."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        total = legacy_values_count()
        with tqdm(total=total, unit="value", disable=total == 0, file=self.stderr) as bar:
            counts = legacy_values_reseal(batch_size=batch_size, progress=bar.update)
        self.stdout.write(
            f"Re-sealed {counts.resealed:,} value(s); left {counts.shredded:,} under destroyed keys "
            f"and {counts.undecryptable:,} that do not open."
        )
