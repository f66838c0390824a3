"""Benchmark: log §1798.83 disclosures for N subjects, then export the year's CSV for all customers.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops .venv/bin/python bench/disclosures.py [N]

N defaults to 1,000,000 subjects. Runs against its own database (the DATABASE_URL's name + "_bench",
created and migrated on first use, emptied at each run), never the one in DATABASE_URL itself.

What it does, and prints:
1. N subjects (plain SQL), four recipients; then logs direct-marketing shares of every subject to two
   partners and a same-brand affiliate, plus a service-provider share, in batches of 100,000
   (`--batch`) through `services.disclosure_batch_record` (one COPY per batch): events/s.
2. The CSV export through `services.write_export` (COPY per window of subject ids): rows/s, peak RSS
   growth and peak Python heap, next to a raw `COPY (SELECT ...) TO STDOUT` of the same SELECT as one
   statement. The two outputs are compared byte for byte.
Goal (issue 7): the export at >= 0.5x the raw COPY's rows/s, with memory flat in the number of customers.
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
from urllib.parse import urlsplit, urlunsplit

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


def bench_database(url: str) -> str:
    """Point Django at <db>_bench, creating the database if needed."""
    import psycopg

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/disclosures.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = parts.path.lstrip("/") or "privacyops"
    bench_name = name if name.endswith("_bench") else f"{name}_bench"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench_name]).fetchone():
            conn.execute(f'CREATE DATABASE "{bench_name}"')
    return urlunsplit(parts._replace(path=f"/{bench_name}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="subjects per logged batch")
    parser.add_argument("--window", type=int, default=None, help="subject ids per export window")
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = bench_database(os.environ.get("DATABASE_URL", ""))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from disclosures import exports, selectors, services
    from disclosures.models import Purpose
    from inventory.models import ThirdParty

    call_command("migrate", verbosity=0)
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

    # Ours: the service the command and the admin task use.
    ours = Sink()
    base = reset_peak_rss()
    started = time.perf_counter()
    stats, _ = services.write_export(year=year, fmt="csv", out=ours, window=window)
    ours_s = time.perf_counter() - started
    ours_rss = _rss_kb("VmHWM") - base

    # Raw: the same SELECT as one COPY (same work_mem as the export), chunks discarded.
    raw = Sink()
    raw.write((",".join(exports.CSV_HEADER) + "\n").encode())
    statement = f"COPY ({exports.csv_select_sql(year=year, cards=cards)}) TO STDOUT (FORMAT csv)"
    base = reset_peak_rss()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{exports.EXPORT_WORK_MEM}'")
        with cursor.copy(statement) as copy:
            for chunk in copy:
                raw.write(chunk)
    raw_s = time.perf_counter() - started
    raw_rss = _rss_kb("VmHWM") - base

    # Python heap of our export (separate pass: tracing slows allocations).
    tracemalloc.start()
    services.write_export(year=year, fmt="csv", out=Sink(), window=window)
    heap_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    rows = stats.rows
    same = ours.digest.hexdigest() == raw.digest.hexdigest()
    print(
        f"export CSV (services.write_export, COPY per {window:,}-subject window): {rows:,} rows, "
        f"{ours.bytes / 1e6:,.1f} MB in {ours_s:.2f} s = {rows / ours_s:,.0f} rows/s; "
        f"peak RSS +{ours_rss / 1024:.1f} MB, Python heap peak {heap_peak / 1e6:.2f} MB"
    )
    print(
        f"raw COPY (SELECT ...) TO STDOUT, same rows: {rows:,} rows in {raw_s:.2f} s = {rows / raw_s:,.0f} rows/s; "
        f"peak RSS +{raw_rss / 1024:.1f} MB"
    )
    print(f"ratio: {raw_s / ours_s:.2f}x raw COPY's rows/s (goal >= 0.5x); outputs identical: {same}")
    if not same:
        sys.exit("the export differs from the raw COPY")


if __name__ == "__main__":
    main()
