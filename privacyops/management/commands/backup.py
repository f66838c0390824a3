from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from privacyops.backup import backup_create


class Command(BaseCommand):
    help = "Dump the PostgreSQL database with pg_dump (custom format) to --output."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=None)

    def handle(self, *args, output: Path | None, **options):
        output = output or Path(f"privacyops-{timezone.now():%Y%m%dT%H%M%SZ}.dump")
        backup_create(output=output)
        self.stdout.write(self.style.SUCCESS(f"Backup written to {output} at {timezone.now().isoformat()}"))
