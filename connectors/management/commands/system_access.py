"""manage.py system_access <system> --identity email=<address> [--json]: the rows a request would return."""

import json

from django.core.management.base import BaseCommand, CommandError

from connectors.connector import NotConnected
from connectors.services import system_access
from connectors.sql import SystemUnavailable

from ._common import get_system, parse_identities


class Command(BaseCommand):
    help = "Show the rows an access request would return from one system, by collection (nothing is changed)."

    def add_arguments(self, parser):
        parser.add_argument("system", help="System code.")
        parser.add_argument("--identity", action="append", required=True, help="name=value, e.g. email=a@b.c")
        parser.add_argument("--json", action="store_true", help="Print the rows as JSON.")

    def handle(self, *args, system, identity, json: bool, **options):
        try:
            found = system_access(system=get_system(system), identities=parse_identities(identity))
        except (NotConnected, SystemUnavailable) as exc:
            raise CommandError(str(exc)) from None
        if json:
            self.stdout.write(_dumps({"collections": found.as_json(), "truncated": found.truncated}))
            return
        for collection, n in found.counts().items():
            flag = " (truncated)" if collection in found.truncated else ""
            self.stdout.write(f"{collection}: {n} row(s){flag}")
        if not found.counts():
            self.stdout.write("no rows")


def _dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
