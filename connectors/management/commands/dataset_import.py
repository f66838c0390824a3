"""manage.py dataset_import <system> <file.yml>: store a Fides dataset file for a system."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from connectors.fides import DatasetError
from connectors.services import dataset_import

from ._common import get_system


class Command(BaseCommand):
    help = (
        "Import a Fides dataset YAML file (fides_meta or fidesops_meta) for a system. The file is kept "
        "unchanged and exported as is; errors are listed by line and nothing is saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", help="System code.")
        parser.add_argument("file", help="Fides dataset YAML file.")
        parser.add_argument(
            "--erase",
            action="append",
            default=[],
            metavar="TARGET=STRATEGY",
            help="collection=delete|keep or collection.field=null|hash (repeatable).",
        )
        parser.add_argument("--erase-json", help="JSON file mapping targets to strategies.")
        parser.add_argument(
            "--category", action="append", default=[], metavar="FIDES=OURS",
            help="Map a Fides category to one of our DataCategory codes (repeatable).",
        )  # fmt: skip

    def handle(self, *args, system, file, erase, erase_json, category, **options):
        target = get_system(system)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        mapping: dict[str, str] = json.loads(Path(erase_json).read_text()) if erase_json else {}
        for item in erase:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--erase takes target=strategy, not {item!r}.")
            mapping[key] = value
        categories = dict(item.partition("=")[::2] for item in category)
        try:
            saved = dataset_import(
                system=target, text=path.read_text(), erase=mapping, category_map=categories,
                actor="manage.py dataset_import",
            )  # fmt: skip
        except DatasetError as exc:
            raise CommandError(f"{file}: " + "\n".join(f"line {ln}: {m}" for ln, m in exc.errors)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        for ds in saved:
            self.stdout.write(f"imported dataset {ds.fides_key} for system {target.code}")
