from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from retention import selectors, services
from retention.dry_run import sweep_dry_run
from retention.models import SweepRun


class Command(BaseCommand):
    help = (
        "Retention sweep. --dry-run: count what would be erased now and change nothing. "
        "--now: run the sweep in this process with a progress bar. Neither: queue it for the workers."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", help="Report what a sweep now would erase.")
        mode.add_argument("--now", action="store_true", help="Sweep in this process (no worker needed).")
        parser.add_argument(
            "--schedule",
            type=int,
            action="append",
            dest="schedules",
            help="Only this schedule id (repeatable).",
        )
        parser.add_argument("--no-minors", action="store_true", help="Leave minors for the next full sweep.")

    def handle(
        self, *args, dry_run: bool, now: bool, schedules: list[int] | None, no_minors: bool, **options
    ):
        if dry_run:
            return self._dry_run(schedules, include_minors=not no_minors)
        try:
            run = services.sweep_request(
                actor="manage.py sweep",
                trigger=SweepRun.Trigger.COMMAND,
                schedule_ids=schedules,
                include_minors=not no_minors,
                dispatch=not now,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not now:
            self.stdout.write(
                f"Sweep {run.public_id} queued for the workers (as of {run.as_of:%Y-%m-%d %H:%M} UTC)."
            )
            return
        bar = tqdm(
            total=0, unit="batch", desc="Sweeping", file=self.stderr, disable=options["verbosity"] == 0
        )

        def progress(batch, done: int, total: int) -> None:
            bar.total = total
            bar.set_postfix_str(f"{batch.model_label or 'minor'}: {batch.erased} erased")
            bar.update(1)

        run = services.sweep_execute(run_id=run.pk, progress=progress)
        bar.close()
        self.stdout.write(
            f"Sweep {run.public_id}: {run.get_status_display()}. Erased {run.erased_count}, "
            f"kept under legal hold {run.kept_count}, failed batches {run.error_count}."
        )
        for category, totals in sorted(run.summary.items()):
            self.stdout.write(
                f"  {category}: {totals['erased']} erased, {totals['kept']} kept, {totals['errors']} errors"
            )
        if run.certificate_id:
            self.stdout.write(f"Certificate {run.certificate.public_id}")

    def _dry_run(self, schedules: list[int] | None, *, include_minors: bool) -> None:
        chosen = None
        if schedules:
            chosen = list(
                selectors.RetentionSchedule.objects.filter(pk__in=schedules, active=True).select_related(
                    "category"
                )
            )
        dry = sweep_dry_run(as_of=timezone.now(), schedules=chosen, include_minors=include_minors)
        for row in dry.rows:
            self.stdout.write(
                f"schedule #{row.schedule_id} {row.category} {row.model_label} ({row.action}): "
                f"would erase {row.would_erase}, kept under legal hold {row.held}, "
                f"kept: open request {row.open_request}"
            )
        # The total counts the minors' records too: it is the figure the sweep's certificate will show.
        self.stdout.write(
            f"Dry run: {dry.would_erase} records would be erased now ({dry.records_would_erase} expired, "
            f"{dry.minors_would_erase} of {len(dry.minors)} minor(s)), {dry.held} kept under legal hold, "
            f"{dry.open_request} kept: open request. Nothing was changed."
        )
