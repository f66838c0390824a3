import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from retention.models import ErasureJournal
from retention.services import erasures_replay


def parse_since(value: str) -> dt.datetime:
    """The --since option (a date or a date-time, UTC when naive) as an aware datetime."""
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: expected a date (YYYY-MM-DD) or date-time, got {value!r}.")
        parsed = dt.datetime.combine(day, dt.time.min)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


class Command(BaseCommand):
    help = (
        "After restoring a database backup: re-apply every erasure journaled since a date, so erased data "
        "does not come back (rows deleted or anonymised again, data keys destroyed again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="Date (or date-time, UTC) of the restored backup.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be erased again.")

    def handle(self, *args, since: str, dry_run: bool, **options):
        start = parse_since(since)
        total = ErasureJournal.objects.filter(at__gte=start).count()
        bar = tqdm(
            total=total, unit="entry", desc="Replaying", file=self.stderr, disable=options["verbosity"] == 0
        )
        counts = erasures_replay(
            since=start, actor="manage.py replay_erasures", dry_run=dry_run, progress=bar.update
        )
        bar.close()
        verb = "would be erased again" if dry_run else "erased again"
        self.stdout.write(
            f"{counts['journal_rows']} journal entries since {start:%Y-%m-%d %H:%M} UTC "
            f"({counts['mirrored']} found only in the mirror outside the database)."
        )
        for method in ErasureJournal.Method:
            if counts.get(method.value):
                self.stdout.write(f"  {method.label}: {counts[method.value]} {verb}")
        if counts["unknown_model"]:
            self.stdout.write(
                self.style.WARNING(f"  {counts['unknown_model']} entries name a model no longer registered.")
            )
        if not any(counts.get(m.value) for m in ErasureJournal.Method):
            self.stdout.write("Nothing had come back.")
