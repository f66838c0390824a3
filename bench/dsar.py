"""Benchmark: one access package and one erasure among N subjects, against raw SQL for the same rows.

    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/dsar.py            # N = 1,000,000
    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/dsar.py 20000      # a quick run

Populates the database with N bench subjects (each with records in every inventory category) unless it
already holds that many (so reruns reuse them); uses `manage.py seed_demo`'s bulk path when that command
exists, else PostgreSQL COPY (bulk_create elsewhere). Then, for two fresh subjects built through the
services (sealed fields, data keys, a case each):

- access: the registry discovery (`records_for_subject`) and the whole package (`package_contents`:
  discovery, decryption, JSON + CSV, ZIP) vs raw `SELECT *` of the same rows, one query per table;
- erasure: `retention.services.erase_subject` (the engine the cases use) vs raw SQL doing the same
  deletes/updates and key destruction on the twin subject.
Prints milliseconds, rows, and the ratio to raw SQL.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command, get_commands  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from inventory import crypto  # noqa: E402
from inventory import models as inv  # noqa: E402
from inventory.registry import registry  # noqa: E402
from inventory.selectors import records_for_subject  # noqa: E402
from inventory.services import record_create, subject_create  # noqa: E402

BENCH_DOMAIN = "bench.invalid"
BATCH = 20_000


def _bench_count() -> int:
    return inv.DataSubject.objects.filter(email_normalized__endswith=f"@{BENCH_DOMAIN}").count()


def _copy(table: str, columns: list[str], rows) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _column(model, name: str) -> str:
    fields = {f.attname: f.column for f in model._meta.concrete_fields}
    return fields[name]


def populate(n: int) -> None:
    have = _bench_count()
    if have >= n:
        print(f"reusing {have:,} bench subjects")
        return
    if "seed_demo" in get_commands():
        print(f"seeding {n - have:,} subjects with manage.py seed_demo")
        call_command("seed_demo", subjects=n - have)
        return
    wrapped = crypto.new_wrapped_key()  # one wrapped key shared by bulk rows: its value is irrelevant here
    system = inv.System.objects.get(code="privacyops").pk
    sources = dict(inv.Source.objects.values_list("code", "pk"))
    now = timezone.now()
    started = time.perf_counter()
    postgres = connection.vendor == "postgresql"
    for lo in range(have, n, BATCH):
        hi = min(n, lo + BATCH)
        with transaction.atomic():
            subjects = [
                inv.DataSubject(
                    name=f"Bench Person {i}",
                    email=f"p{i}@{BENCH_DOMAIN}",
                    email_normalized=f"p{i}@{BENCH_DOMAIN}",
                    phone=f"+1 415 555 {i % 10000:04d}",
                    country="US",
                    region="CA",
                )
                for i in range(lo, hi)
            ]
            created = inv.DataSubject.objects.bulk_create(subjects, batch_size=5000)
            ids = [s.pk for s in created]
            common = lambda sid: {"subject_id": sid, "system_id": system, "collected_at": now}  # noqa: E731
            tables = {
                inv.DataKey: [{"subject_id": sid, "wrapped": wrapped, "created_at": now} for sid in ids],
                inv.ContactPoint: [
                    {**common(sid), "kind": "email", "value": f"alt{sid}@{BENCH_DOMAIN}",
                     "value_normalized": f"alt{sid}@{BENCH_DOMAIN}", "is_primary": False,
                     "source_id": sources["website"]}
                    for sid in ids
                ],
                inv.UserAccount: [
                    {**common(sid), "username": f"user{sid}", "password_hash": "", "payment_method_reference": "",
                     "payment_brand": ""}
                    for sid in ids
                ],
                inv.CompanyAffiliation: [
                    {**common(sid), "company_name": "Acme", "company_size": "", "company_location": "",
                     "job_title": "CFO", "buying_intent": ""}
                    for sid in ids
                ],
                inv.MarketingPreference: [
                    {**common(sid), "channel": "email", "topics": ["erp"], "frequency": ""} for sid in ids
                ],
                inv.ActivityEvent: [
                    {**common(sid), "kind": "page_view", "target": f"/p/{k}", "ip_address": "203.0.113.7",
                     "device_id": "", "cookie_id": f"ck-{sid}", "user_agent": "bench", "geo_country": "US",
                     "source_id": sources["cookies"]}
                    for sid in ids for k in range(3)
                ],
            }  # fmt: skip
            for model, rows in tables.items():
                if postgres:
                    columns = list(rows[0])
                    _copy(
                        model._meta.db_table,
                        [f'"{_column(model, c)}"' for c in columns],
                        (
                            [
                                __import__("json").dumps(r[c]) if isinstance(r[c], list) else r[c]
                                for c in columns
                            ]
                            for r in rows
                        ),
                    )
                else:
                    model.objects.bulk_create([model(**r) for r in rows], batch_size=2000)
        done = hi - have
        rate = done / (time.perf_counter() - started)
        print(f"  inserted {hi:,}/{n:,} subjects ({rate:,.0f} subjects/s)", flush=True)
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def make_subject(tag: str) -> inv.DataSubject:
    """A subject built through the services: sealed fields, its own key, one record per category."""
    subject = subject_create(
        name=f"Target {tag}", email=f"target-{tag}-{time.time_ns()}@example.com", country="US", region="CA",
        date_of_birth=date(1980, 5, 17),
    )  # fmt: skip
    system = inv.System.objects.get(code="privacyops")
    for model, values in [
        (inv.ContactPoint, {"kind": "phone", "value": "+1 415 555 0000"}),
        (inv.UserAccount, {"username": f"u-{subject.pk}", "payment_method_reference": "tok_visa"}),
        (inv.CompanyAffiliation, {"company_name": "Acme"}),
        (inv.MarketingPreference, {"channel": "email", "topics": ["erp"]}),
        (inv.SurveyResponse, {"survey": "ERP", "answer": "free text"}),
        *[(inv.ActivityEvent, {"kind": "page_view", "target": f"/p/{k}"}) for k in range(20)],
    ]:
        record_create(model=model, subject=subject, values={**values, "system": system})
    return subject


def _raw_select(subject_id: int) -> int:
    rows = 0
    with connection.cursor() as cursor:
        for entry in registry:
            column = (
                "id"
                if not entry.subject
                else entry.model._meta.get_field(entry.subject.split("__")[0]).column
            )
            if "__" in entry.subject:
                continue
            cursor.execute(
                f'SELECT * FROM "{entry.model._meta.db_table}" WHERE "{column}" = %s', [subject_id]
            )
            rows += len(cursor.fetchall())
    return rows


def _raw_erase(subject_id: int) -> None:
    """What the engine does for the inventory's tables, in plain SQL (delete rows, blank the subject row,
    destroy the key)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for entry in registry:
            if not entry.subject or "__" in entry.subject or entry.append_only:
                continue
            table = entry.model._meta.db_table
            column = entry.model._meta.get_field(entry.subject).column
            if entry.deletes_rows:
                cursor.execute(f'DELETE FROM "{table}" WHERE "{column}" = %s', [subject_id])
            else:
                sets = ", ".join(
                    f"\"{entry.model._meta.get_field(f).column}\" = ''" for f in entry.field_strategies
                )
                cursor.execute(f'UPDATE "{table}" SET {sets} WHERE "{column}" = %s', [subject_id])
        cursor.execute(
            "UPDATE inventory_datasubject SET name='', email='', email_normalized=md5(email_normalized), "
            "phone='', postal_address='', company='', role='', date_of_birth='', erased_at=now() WHERE id=%s",
            [subject_id],
        )
        cursor.execute(
            "UPDATE inventory_datakey SET wrapped='', destroyed_at=now() WHERE subject_id=%s", [subject_id]
        )


def _time(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from requests_app.packages import package_contents

    print(f"database: {connection.vendor}; bench subjects wanted: {args.subjects:,}")
    populate(args.subjects)
    print(f"subjects in database: {inv.DataSubject.objects.count():,}")

    target = make_subject("access")
    rows = sum(len(f.records) for f in records_for_subject(target.pk))
    raw_rows = _raw_select(target.pk)
    t_raw = _time(lambda: _raw_select(target.pk), args.repeat)
    t_disc = _time(lambda: records_for_subject(target.pk), args.repeat)
    t_pkg = _time(
        lambda: package_contents(subject_id=target.pk, reference="bench", generated_at=timezone.now()),
        args.repeat,
    )
    print(f"\nACCESS PACKAGE for one subject ({rows} registered rows; raw SQL found {raw_rows})")
    print(f"  raw SQL SELECT, one query per table : {t_raw:8.2f} ms")
    print(f"  registry discovery (ORM)            : {t_disc:8.2f} ms  ({t_disc / t_raw:5.1f}x raw)")
    print(f"  whole package (decrypt, JSON, CSV, ZIP): {t_pkg:8.2f} ms  ({t_pkg / t_raw:5.1f}x raw)")

    engine_subject = make_subject("erase-engine")
    raw_subject = make_subject("erase-raw")
    try:
        from retention.services import erase_subject
    except ImportError:
        erase_subject = None
    t = time.perf_counter()
    _raw_erase(raw_subject.pk)
    t_raw_erase = (time.perf_counter() - t) * 1000
    print(
        f"\nERASURE of one subject ({sum(len(f.records) for f in records_for_subject(engine_subject.pk))} rows)"
    )
    print(f"  raw SQL (delete, blank, destroy key) : {t_raw_erase:8.2f} ms")
    if erase_subject is None:
        print("  retention.services.erase_subject     : not on this branch yet (retention app not merged)")
    else:
        t = time.perf_counter()
        erase_subject(subject_id=engine_subject.pk, actor="bench", reason="bench", case_reference="bench")
        t_engine = (time.perf_counter() - t) * 1000
        print(
            f"  retention.services.erase_subject     : {t_engine:8.2f} ms  ({t_engine / t_raw_erase:5.1f}x raw)"
        )


if __name__ == "__main__":
    main()
