"""manage.py demo_crm: install the demo SQLite CRM (customers, orders, tickets...) for the demo subjects."""

from django.conf import settings
from django.core.management.base import BaseCommand

from connectors.services import demo_crm_install


class Command(BaseCommand):
    help = (
        "Create the demo's external SQLite CRM (var/demo_crm.sqlite3), fill it for the first demo subjects "
        "and connect it as system 'demo-crm' with its Fides dataset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(settings.BASE_DIR / "var" / "demo_crm.sqlite3"))
        parser.add_argument("--subjects", type=int, default=200)

    def handle(self, *args, path, subjects, **options):
        system = demo_crm_install(path=path, subjects=subjects)
        self.stdout.write(f"demo CRM ready at {path} as system {system.code!r}")
