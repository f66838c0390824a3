"""manage.py replay_system_erasures --system X: re-apply X's erasure journal after restoring X from a backup."""

from django.core.management.base import BaseCommand, CommandError

from connectors.connector import NotConnected
from connectors.services import journal_replay
from connectors.sql import SystemUnavailable

from ._common import get_system


class Command(BaseCommand):
    help = (
        "Re-apply every journaled erasure of one external system (after that system was restored from a "
        "backup). Idempotent: rows already erased are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", required=True, help="System code.")
        parser.add_argument("--since-id", type=int, default=0, help="Only journal entries after this id.")

    def handle(self, *args, system, since_id, **options):
        try:
            counts = journal_replay(
                system=get_system(system), actor="manage.py replay_system_erasures", since_id=since_id
            )
        except (NotConnected, SystemUnavailable) as exc:
            raise CommandError(str(exc)) from None
        for collection, n in counts.items():
            self.stdout.write(f"{collection}: re-erased {n} row(s)")
        if not counts:
            self.stdout.write("nothing to re-apply")
