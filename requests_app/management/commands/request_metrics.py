"""`manage.py request_metrics --year 2026`: the 11 CCR §7102 figures per request type."""

from django.core.management.base import BaseCommand

from requests_app import deadlines
from requests_app.selectors import request_metrics, request_metrics_csv


class Command(BaseCommand):
    help = "Print per request type: received, complied with in whole or in part, denied, median/mean days."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=deadlines.business_today().year - 1)
        parser.add_argument("--csv", action="store_true", help="CSV instead of a table.")

    def handle(self, *args, **options):
        year = options["year"]
        if options["csv"]:
            self.stdout.write(request_metrics_csv(year=year), ending="")
            return
        self.stdout.write(f"Privacy request metrics for {year} (11 CCR §7102)")
        header = f"{'request type':<55} {'received':>8} {'complied':>8} {'denied':>7} {'median d':>8} {'mean d':>7}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in request_metrics(year=year):
            median = "-" if r.median_days_to_respond is None else f"{r.median_days_to_respond:.1f}"
            mean = "-" if r.mean_days_to_respond is None else f"{r.mean_days_to_respond:.1f}"
            self.stdout.write(
                f"{r.label:<55} {r.received:>8} {r.complied:>8} {r.denied:>7} {median:>8} {mean:>7}"
            )
