"""manage.py system_erase <system> --identity email=<address> --dry-run | --yes."""

from django.core.management.base import BaseCommand, CommandError

from connectors.connector import NotConnected
from connectors.services import system_erase
from connectors.sql import SystemUnavailable

from ._common import get_system, parse_identities


class Command(BaseCommand):
    help = (
        "Erase one identity's rows in one system by the dataset's strategies, journaled. "
        "--dry-run shows what would change per collection; --yes does it."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", help="System code.")
        parser.add_argument("--identity", action="append", required=True, help="name=value, e.g. email=a@b.c")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--dry-run", action="store_true", help="Count only; change nothing.")
        mode.add_argument("--yes", action="store_true", help="Erase.")

    def handle(self, *args, system, identity, dry_run, yes, **options):
        try:
            counts = system_erase(
                system=get_system(system),
                identities=parse_identities(identity),
                actor="manage.py system_erase",
                dry_run=dry_run,
            )
        except (NotConnected, SystemUnavailable) as exc:
            raise CommandError(str(exc)) from None
        verb = "would change" if dry_run else "changed"
        for collection, n in counts.items():
            self.stdout.write(f"{collection}: {verb} {n} row(s)")
        if not counts:
            self.stdout.write("nothing to erase")
