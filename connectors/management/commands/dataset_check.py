"""manage.py dataset_check <system>: the dataset against the live schema, with index warnings."""

from django.core.management.base import BaseCommand, CommandError

from connectors.connector import NotConnected
from connectors.fides import DatasetError
from connectors.services import dataset_check
from connectors.sql import SystemUnavailable

from ._common import get_system


class Command(BaseCommand):
    help = (
        "Validate a system's datasets against its live schema: unknown tables and columns (errors), "
        "identity or reference columns without an index (warnings, with the CREATE INDEX to run). "
        "Exits non-zero when there are errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", help="System code.")
        parser.add_argument("--paths", action="store_true", help="Also list the paths each identity reaches.")

    def handle(self, *args, system, paths, **options):
        try:
            report = dataset_check(system=get_system(system))
        except (NotConnected, SystemUnavailable, DatasetError) as exc:
            raise CommandError(str(exc)) from None
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        if paths:
            for path in report.paths:
                self.stdout.write(" -> ".join(path))
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        if report.errors:
            raise CommandError(f"{len(report.errors)} error(s) in the datasets of {system}.")
        self.stdout.write(
            self.style.SUCCESS(f"{system}: datasets match the schema ({len(report.warnings)} warning(s))")
        )
