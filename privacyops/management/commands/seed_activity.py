"""`manage.py seed_activity --seed S`: demo cases, consent, disclosures, a sweep, notices and a breach on top
of `seed_demo`'s subjects, so every screen has something to show (privacyops.demo_activity)."""

from django.core.management.base import BaseCommand, CommandError

from privacyops.demo_activity import seed_activity


class Command(BaseCommand):
    help = "Demo activity for every screen (cases, consent, disclosures, sweep, outbox, breach); run after seed_demo."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, seed: int, **options):
        try:
            report = seed_activity(seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo activity: cases {_by_status(report.cases)}, {report.consent_events} consent events, "
                f"{report.disclosures} disclosures, {report.notices_1798_83} §1798.83 notices, "
                f"{report.notices_failed} failed notice, {report.sweeps} sweep, {report.breaches} breach."
            )
        )


def _by_status(cases: dict) -> str:
    """ "3 verifying, 1 identity_in_doubt": status codes as plain text, whatever type the keys have."""
    return ", ".join(f"{count} {getattr(status, 'value', status)}" for status, count in cases.items())
