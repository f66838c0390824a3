import secrets
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Prepare a development instance: default schedules, demo data and activity when the database is empty, "
        "and an admin login (printed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--demo-subjects", type=int, default=2000)

    def handle(self, *args, demo_subjects: int, **options):
        call_command("setup_schedules", stdout=self.stdout)
        try:
            DataSubject = apps.get_model("inventory", "DataSubject")
        except LookupError:
            DataSubject = None
        if DataSubject is not None and not DataSubject.objects.exists():
            self.stdout.write(f"Empty database: loading demo data ({demo_subjects} subjects)...")
            call_command("seed_demo", subjects=demo_subjects, seed=1, stdout=self.stdout)
            if apps.is_installed("connectors"):
                call_command("demo_crm", stdout=self.stdout)  # the demo's external CRM (SQLite)
            call_command("seed_activity", seed=1, stdout=self.stdout)
        self._ensure_admin()

    def _ensure_admin(self) -> None:
        User = get_user_model()
        secret_file = Path(settings.BASE_DIR) / ".admin-password"
        user = User.objects.filter(username="admin").first()
        if user is None or not secret_file.exists():
            password = secrets.token_urlsafe(12)
            user = user or User(username="admin", email="admin@example.com")
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip()
        self.stdout.write(
            self.style.SUCCESS(
                f"\nAdmin login for http://127.0.0.1:{settings.PORT}/admin/\n"
                f"  username: admin\n  password: {password}\n"
                "(development only; stored in .admin-password, which git ignores)\n"
            )
        )
