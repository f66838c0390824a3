"""Benchmark: log §1798.83 disclosures for N subjects, then export the year's CSV for all customers.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops \
        .venv/bin/python bench/disclosures.py [N] [--repeat 3] [--keepdb]

N defaults to 1,000,000 subjects. Runs in its own throw-away database (`bench_<name>`, created, migrated
and dropped, as every bench does; --keepdb keeps it), never the one in DATABASE_URL itself.

What it does, and prints:
1. N subjects (plain SQL), four recipients; then logs direct-marketing shares of every subject to two
   partners and a same-brand affiliate, plus a service-provider share, in batches of 100,000
   (`--batch`) through `services.disclosure_batch_record` (one COPY per batch): events/s.
2. The CSV export through `services.write_export` (COPY per window of subject ids): rows/s, peak RSS
   growth and peak Python heap, next to a raw `COPY (SELECT ...) TO STDOUT` of the same SELECT as one
   statement. The two outputs are compared byte for byte.
   With --repeat, both exports run that many times, alternating, and the best of each counts.
Goal lines (issue 7): the export at >= 0.5x the raw COPY's rows/s; outputs identical; the export's
Python heap peak bounded by one window (<= 64 MB whatever the number of customers: memory flat).
"""

import argparse
import contextlib
import datetime
import hashlib
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
os.environ.setdefault("DEBUG", "1")


class Sink:
    """A file that counts and hashes what is written and keeps nothing (measures the export, not the disk)."""

    def __init__(self):
        self.bytes = 0
        self.digest = hashlib.sha256()

    def write(self, data) -> int:
        data = bytes(data)
        self.bytes += len(data)
        self.digest.update(data)
        return len(data)


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark (Linux) and return the current RSS in kB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _rss_kb("VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="subjects per logged batch")
    parser.add_argument("--window", type=int, default=None, help="subject ids per export window")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=1, help="export runs of each kind; the best counts")
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/disclosures.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    import django

    django.setup()
    from benchdb import throwaway_database

    with throwaway_database(keepdb=args.keepdb):
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.db import connection, transaction

    from disclosures import exports, selectors, services
    from disclosures.models import Purpose
    from inventory.models import ThirdParty

    n, year = args.subjects, args.year
    window = args.window or exports.EXPORT_WINDOW
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute(
            "TRUNCATE disclosures_disclosureevent, disclosures_disclosurebatch, disclosures_correctionrecipient, "
            "disclosures_disclosurenoticerequest, disclosures_noticecorrection, audit_auditevent, "
            "inventory_datakey, inventory_datasubject RESTART IDENTITY CASCADE"
        )
    print(
        f"disclosures bench: {n:,} subjects, year {year}, PostgreSQL {version}, database {connection.settings_dict['NAME']}"
    )

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_datasubject (public_id, kind, name, email, email_normalized, phone, postal_address, "
            "company, role, country, region, date_of_birth, is_minor, created_at, updated_at) "
            "SELECT gen_random_uuid(), 'person', '', '', '', '', '', '', '', 'US', 'CA', '', false, now(), now() "
            "FROM generate_series(1, %s)",
            [n],
        )
        cursor.execute("SELECT id FROM inventory_datasubject ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
    print(f"subjects: {n:,} inserted in {time.perf_counter() - started:.1f} s")

    def partner(name: str, **extra) -> ThirdParty:
        defaults = {
            "kind": "marketing_partner",
            "street_address": "100 Market Street",
            "city": "San Francisco",
            "region": "CA",
            "postal_code": "94105",
            "country": "US",
            "nature_of_business": "Catalogue retailer",
        }
        return ThirdParty.objects.update_or_create(legal_name=name, defaults={**defaults, **extra})[0]

    catalogue = partner("Bench Catalogue Co.", product_examples="Office furniture, supplies")
    lists = partner("Bench Lists, Inc.", nature_of_business="Mailing-list broker")
    affiliate = partner("SYSPRO Bench Affiliate LLC", kind="affiliate", same_brand_affiliate=True)
    processor = partner(
        "Bench Payments Inc.", kind="service_provider", nature_of_business="Payment processing"
    )
    at = datetime.datetime(year, 6, 15, 12, tzinfo=datetime.UTC)

    shares = [
        (catalogue, Purpose.DIRECT_MARKETING, ["name_and_address", "email", "telephone_number"], ids),
        (lists, Purpose.DIRECT_MARKETING, ["email", "kind_of_product_purchased"], ids[::2]),
        (affiliate, Purpose.DIRECT_MARKETING, ["email"], ids),  # exempt (§1798.83(f)): not in the CSV
        (affiliate, Purpose.DIRECT_MARKETING, ["ssn"], ids[::10]),  # sensitive: reported
        (processor, Purpose.SERVICE_PROVISION, ["credit_card_number"], ids),  # not direct marketing
    ]
    events = batches = 0
    started = time.perf_counter()
    for recipient, purpose, categories, members in shares:
        for i in range(0, len(members), args.batch):
            chunk = members[i : i + args.batch]
            services.disclosure_batch_record(
                third_party_id=recipient.pk,
                purpose=purpose,
                subject_ids=chunk,
                statutory_categories=categories,
                disclosed_at=at,
                source="bench",
                actor="bench",
            )
            events += len(chunk)
            batches += 1
    elapsed = time.perf_counter() - started
    print(
        f"log: {events:,} disclosure events in {batches} batches: {elapsed:.1f} s = {events / elapsed:,.0f} events/s"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE disclosures_disclosureevent")
        cursor.execute("VACUUM ANALYZE inventory_datasubject")
    del ids, shares

    cards = selectors.third_party_cards()

    ours_s, raw_s, ours_rss, raw_rss = [], [], 0, 0
    for _ in range(max(1, args.repeat)):
        ours, seconds, rss, stats = export_ours(services, year=year, window=window)
        ours_s.append(seconds)
        ours_rss = max(ours_rss, rss)
        raw, seconds, rss = export_raw(exports, connection, transaction, year=year, cards=cards)
        raw_s.append(seconds)
        raw_rss = max(raw_rss, rss)

    # Python heap of our export (separate pass: tracing slows allocations).
    tracemalloc.start()
    services.write_export(year=year, fmt="csv", out=Sink(), window=window)
    heap_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    rows, best_ours, best_raw = stats.rows, min(ours_s), min(raw_s)
    same = ours.digest.hexdigest() == raw.digest.hexdigest()
    print(
        f"export CSV (services.write_export, COPY per {window:,}-subject window): {rows:,} rows, "
        f"{ours.bytes / 1e6:,.1f} MB in {best_ours:.2f} s = {rows / best_ours:,.0f} rows/s "
        f"(best of {len(ours_s)}); peak RSS +{ours_rss / 1024:.1f} MB, Python heap peak {heap_peak / 1e6:.2f} MB"
    )
    print(
        f"raw COPY (SELECT ...) TO STDOUT, same rows: {rows:,} rows in {best_raw:.2f} s = "
        f"{rows / best_raw:,.0f} rows/s (best of {len(raw_s)}); peak RSS +{raw_rss / 1024:.1f} MB"
    )
    ratio = best_raw / best_ours
    print(f"ratio: {ratio:.2f}x raw COPY's rows/s; outputs identical: {same}")
    print(f"(load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(f"goal export / raw COPY: {ratio:.2f}x (target >= 0.5x): {'met' if ratio >= 0.5 else 'missed'}")
    print(f"goal export identical to raw COPY: {same} (target True): {'met' if same else 'missed'}")
    heap_mb = heap_peak / 1e6
    print(
        f"goal export heap peak: {heap_mb:.1f} MB (target <= 64 MB): {'met' if heap_mb <= 64 else 'missed'}"
    )
    if not same:
        sys.exit("the export differs from the raw COPY")


def export_ours(services, *, year: int, window: int) -> tuple[Sink, float, int, object]:
    """The service the command and the admin task use: output sink, seconds, peak RSS growth, stats."""
    out = Sink()
    base = reset_peak_rss()
    started = time.perf_counter()
    stats, _ = services.write_export(year=year, fmt="csv", out=out, window=window)
    return out, time.perf_counter() - started, _rss_kb("VmHWM") - base, stats


def export_raw(exports, connection, transaction, *, year: int, cards) -> tuple[Sink, float, int]:
    """The same SELECT as one COPY (same work_mem as the export), chunks discarded."""
    out = Sink()
    out.write((",".join(exports.CSV_HEADER) + "\n").encode())
    statement = f"COPY ({exports.csv_select_sql(year=year, cards=cards)}) TO STDOUT (FORMAT csv)"
    base = reset_peak_rss()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{exports.EXPORT_WORK_MEM}'")
        with cursor.copy(statement) as copy:
            for chunk in copy:
                out.write(chunk)
    return out, time.perf_counter() - started, _rss_kb("VmHWM") - base


if __name__ == "__main__":
    main()
