from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacyops.backup import backup_restore


class Command(BaseCommand):
    help = "Restore a pg_dump backup over the database. Then run replay_erasures --since <backup time>."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, source: Path, yes: bool, **options):
        if not source.exists():
            raise CommandError(f"No backup file at {source}.")
        if not yes and input("This replaces the database's contents. Type 'restore' to go on: ") != "restore":
            raise CommandError("Restore cancelled.")
        backup_restore(source=source)
        self.stdout.write(
            self.style.WARNING(
                "Restored. Erasures made after the backup are NOT in it: run "
                "`manage.py replay_erasures --since <backup time>` now."
            )
        )
