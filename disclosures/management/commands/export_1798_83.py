"""manage.py export_1798_83 --year 2025 [--format csv|zip|summary] [--output PATH]

A thin wrapper over services.write_export: streams the year's export to a file with a progress bar
(memory flat in the number of customers), then prints the summary per recipient and category.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from disclosures import exports, rules, selectors, services
from disclosures.models import DisclosureExport


class Command(BaseCommand):
    help = (
        "Export a calendar year's Cal. Civ. Code §1798.83 data: CSV rows, a ZIP of notices, or the summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=rules.year_of(timezone.now()) - 1)
        parser.add_argument("--format", choices=[f.value for f in DisclosureExport.Format], default="csv")
        parser.add_argument(
            "--notice-format", choices=["pdf", "html", "txt"], default="pdf", help="ZIP only."
        )
        parser.add_argument(
            "--output", help="File to write (default: 1798-83-YEAR.csv|zip in the current folder)."
        )
        parser.add_argument(
            "--window", type=int, default=exports.EXPORT_WINDOW, help="Subject ids per window."
        )
        parser.add_argument("--no-summary", action="store_true", help="Don't compute and print the summary.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(
        self, *args, year: int, format: str, notice_format: str, output: str | None, window: int, **options
    ):
        suffix = ".zip" if format == "zip" else ".csv"
        name = "1798-83-{year}{kind}{suffix}".format(
            year=year, kind="-summary" if format == "summary" else "", suffix=suffix
        )
        path = Path(output or name)
        span = exports.subject_span()
        total = (span[1] - span[0] + 1) if span else 0
        bar = tqdm(
            total=total,
            unit="subject ids",
            unit_scale=True,
            desc=f"§1798.83 {year} {format}",
            disable=options["no_progress"] or format == "summary",
            file=sys.stderr,
        )
        try:
            with open(path, "wb") as fh:
                stats, summary = services.write_export(
                    year=year,
                    fmt=format,
                    out=fh,
                    notice_format=notice_format,
                    progress=bar.update,
                    window=window,
                )
        except Exception as exc:
            path.unlink(missing_ok=True)
            raise CommandError(f"Export failed ({type(exc).__name__}); nothing was left behind.") from exc
        finally:
            bar.close()
        services.export_written(year=year, fmt=format, rows=stats.rows)
        what = "customers' notices" if format == "zip" else "rows"
        count = stats.customers if format == "zip" else stats.rows
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {count} {what} to {path} ({path.stat().st_size:,} bytes).")
        )
        if options["no_summary"]:
            return
        summary = summary or exports.export_summary(year=year, cards=selectors.third_party_cards())
        self._print_summary(summary)

    def _print_summary(self, summary: exports.Summary) -> None:
        self.stdout.write(
            f"\nSummary {summary.year}: {summary.customers} customers with reportable direct-marketing "
            f"disclosures; {summary.exempt_only_customers} with nothing to report."
        )
        if not summary.rows:
            return
        width = max(len(r.recipient_name) for r in summary.rows)
        self.stdout.write(f"{'recipient'.ljust(width)}  {'category':<50}  customers")
        for r in summary.rows:
            self.stdout.write(f"{r.recipient_name.ljust(width)}  {r.category_label:<50}  {r.customers:>9}")
