"""manage.py dataset_export <system> [-o file.yml]: the system's Fides dataset file, as imported."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from connectors.services import dataset_export

from ._common import get_system


class Command(BaseCommand):
    help = "Export a system's Fides dataset YAML exactly as it was imported (stdout, or --output)."

    def add_arguments(self, parser):
        parser.add_argument("system", help="System code.")
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args, system, output, **options):
        try:
            text = dataset_export(system=get_system(system))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if output:
            Path(output).write_text(text)
        else:
            self.stdout.write(text, ending="")
