"""Benchmark: one access package and one erasure among N subjects, against raw SQL for the same rows.

    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/dsar.py            # N = 1,000,000
    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/dsar.py 20000      # a quick run

Tops the database up to N subjects with `manage.py seed_demo` (its COPY path: records in every
category, sealed fields, a data key each), so reruns reuse them. Then, for fresh subjects built through
the services (sealed fields, data keys):

- access: the registry discovery (`records_for_subject`) and the whole package (`package_contents`:
  discovery, decryption, JSON + CSV, ZIP) vs raw `SELECT *` of the same rows, one query per table;
- erasure: `retention.services.erase_subject` (the engine the cases use) vs raw SQL doing the same
  deletes/updates and key destruction on the twin subject.
Prints milliseconds, rows, the ratio to raw SQL, and one goal line per figure issue 19 holds (the same
or better than measured before it: package 2.5x raw, erase_subject 9.5x raw).

It runs in its own throw-away database (`bench_<name>`, created, migrated and dropped, as
bench/consent.py); `--keepdb` keeps it (and a second run reuses the seeded subjects).
"""

import argparse
import logging
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

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from inventory import models as inv  # noqa: E402
from inventory.registry import registry  # noqa: E402
from inventory.selectors import records_for_subject  # noqa: E402
from inventory.services import record_create, subject_create  # noqa: E402


def populate(n: int) -> None:
    """At least `n` subjects with records in every category, through seed_demo's COPY path."""
    have = inv.DataSubject.objects.count()
    if have >= n:
        print(f"reusing the {have:,} subjects already in the database")
        return
    started = time.perf_counter()
    call_command("seed_demo", subjects=n - have, append=have > 0)
    print(f"seeded {n - have:,} subjects in {time.perf_counter() - started:,.1f} s")


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


def _raw_set(model, name: str, strategy: str) -> str:
    field = model._meta.get_field(name)
    column = f'"{field.column}"'
    if strategy == "hash":
        return f"{column} = md5({column})"
    return f"{column} = NULL" if field.null else f"{column} = ''"


def _raw_erase(subject_id: int) -> None:
    """What the engine does, in plain SQL: delete rows, blank/hash fields, destroy the key (no journal,
    no certificate, no audit: the floor the engine is compared with)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for entry in registry:
            if entry.append_only or "__" in entry.subject:
                continue
            table = entry.model._meta.db_table
            column = "id" if not entry.subject else entry.model._meta.get_field(entry.subject).column
            if entry.deletes_rows:
                cursor.execute(f'DELETE FROM "{table}" WHERE "{column}" = %s', [subject_id])
            else:
                sets = ", ".join(
                    _raw_set(entry.model, f, str(st)) for f, st in entry.field_strategies.items()
                )
                if not sets:
                    continue
                cursor.execute(f'UPDATE "{table}" SET {sets} WHERE "{column}" = %s', [subject_id])
        cursor.execute("UPDATE inventory_datasubject SET erased_at = now() WHERE id = %s", [subject_id])
        cursor.execute(
            "UPDATE inventory_datakey SET wrapped = '', destroyed_at = now() WHERE subject_id = %s",
            [subject_id],
        )


def _time(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _verified_case(subject: inv.DataSubject, request_type: str):
    """A case for the subject, verified by an officer, with nothing queued (fulfilment is timed here)."""
    from requests_app import services
    from requests_app.models import PrivacyRequest

    case = services.request_create(
        request_type=request_type, regime="gdpr", channel="email", subject_email=subject.email, actor="bench"
    )
    PrivacyRequest.objects.filter(pk=case.pk).update(status="in_progress")
    return PrivacyRequest.objects.select_related("subject").get(pk=case.pk)


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--keepdb", action="store_true", help="keep the bench database (and reuse it next time)"
    )
    args = parser.parse_args()
    from benchdb import throwaway_database

    with throwaway_database(keepdb=args.keepdb):
        measure(args)


def goal(name: str, figure: float, target: float) -> str:
    return f"goal {name}: {figure:.2f}x (target <= {target}x): {'met' if figure <= target else 'missed'}"


def measure(args) -> None:

    # Time our work, not mail delivery: tasks queued after commit go to the (unconsumed) broker.
    from privacyops.celery import app
    from requests_app import services
    from requests_app.packages import package_contents
    from retention.services import erase_subject

    app.conf.task_always_eager = False
    logging.disable(logging.INFO)
    print(f"database: {connection.vendor}; subjects wanted: {args.subjects:,}")
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
    case = _verified_case(target, "access")
    built = []
    t_case = _ms(lambda: built.append(services.access_package_build(case=case, actor="bench")))
    with transaction.atomic():  # leave no export behind: key destroyed, file removed
        services.package_destroy(built[0], reason="bench")
    print(
        f"\nACCESS PACKAGE for one subject ({rows} registered rows; raw SQL found {raw_rows}), median of {args.repeat}"
    )
    print(f"  raw SQL SELECT, one query per registered table : {t_raw:8.2f} ms")
    print(
        f"  registry discovery (records_for_subject)       : {t_disc:8.2f} ms  ({t_disc / t_raw:5.1f}x raw)"
    )
    print(f"  package contents (decrypt, JSON, CSV, ZIP)     : {t_pkg:8.2f} ms  ({t_pkg / t_raw:5.1f}x raw)")
    print(
        f"  case export (+ encrypt, file, row, timeline)   : {t_case:8.2f} ms  ({t_case / t_raw:5.1f}x raw)"
    )

    n = args.repeat
    engine_subjects = [make_subject(f"erase-engine-{k}") for k in range(n)]
    raw_subjects = [make_subject(f"erase-raw-{k}") for k in range(n)]
    erase_cases = [_verified_case(make_subject(f"erase-case-{k}"), "erasure") for k in range(n)]
    erase_rows = sum(len(f.records) for f in records_for_subject(engine_subjects[0].pk))
    t_raw_erase = statistics.median(_ms(lambda s=s: _raw_erase(s.pk)) for s in raw_subjects)
    t_engine = statistics.median(
        _ms(lambda s=s: erase_subject(subject_id=s.pk, actor="bench", reason="bench", case_reference="bench"))
        for s in engine_subjects
    )
    t_erase_case = statistics.median(
        _ms(lambda c=c: services.HANDLERS["erasure"](c, "bench", None)) for c in erase_cases
    )
    print(f"\nERASURE of one subject ({erase_rows} registered rows), median of {n} subjects each")
    print(f"  raw SQL (delete, blank/hash, destroy key)      : {t_raw_erase:8.2f} ms")
    print(
        f"  retention.services.erase_subject               : {t_engine:8.2f} ms  ({t_engine / t_raw_erase:5.1f}x raw)"
    )
    print(
        f"  erasure case (+ recipients, notices, timeline) : {t_erase_case:8.2f} ms  ({t_erase_case / t_raw_erase:5.1f}x raw)"
    )
    print(f"(load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(goal("access package contents / raw SQL", t_pkg / t_raw, 2.5))
    print(goal("erase_subject / raw SQL", t_engine / t_raw_erase, 9.5))


if __name__ == "__main__":
    main()
