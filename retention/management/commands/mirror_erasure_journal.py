from django.core.management.base import BaseCommand, CommandError

from retention.mirror import mirror_dir
from retention.services import erasure_mirror_sync

from .replay_erasures import parse_since


class Command(BaseCommand):
    help = (
        "Append to the erasure journal's mirror (RETENTION_JOURNAL_MIRROR, outside the database) every "
        "journal entry it lacks since a date. Run it before taking a backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="Date (or date-time, UTC).")

    def handle(self, *args, since: str, **options):
        if mirror_dir() is None:
            raise CommandError("RETENTION_JOURNAL_MIRROR is not set: there is no mirror to bring up to date.")
        added = erasure_mirror_sync(since=parse_since(since))
        self.stdout.write(f"{added} journal entries added to the mirror in {mirror_dir()}.")
