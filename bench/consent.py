"""Benchmark: consent events through the service vs a raw COPY of the same rows; consent_is_current latency.

    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/consent.py [N] [--batch 5000] [--lookups 2000]
        [--subjects N/10] [--evidence-share 1.0] [--repeat 1] [--keepdb]

N (default 1,000,000) events over N/10 subjects are recorded through
`consent.services.consent_events_record_bulk` in batches (validation, duplicate check, sealing the
evidence under each subject's key, ledger append, state upsert, audit). The very same ledger rows
(ciphertext included) are then copied with raw `COPY ... FROM STDIN` into a scratch table with the
ledger's indexes, checks and foreign keys (INSERT on SQLite). Goals: service >= 0.3x raw; median
lookup < 1 ms. `--evidence-share 0` shows the cost of sealing evidence (each subject's key is
unwrapped once per batch, then every event's evidence is sealed with AES-256-GCM under it).
With --repeat R, R rounds of N new events each (service, then the raw COPY of that round's rows); the
best time of each kind counts (later rounds append to a larger ledger, which only handicaps the service).

It runs in a throw-away database (`bench_<name>`, created, migrated and dropped), never in yours:
the ledger is append-only, so bench rows could not be removed from a real database.
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

PURPOSES = ["marketing_email", "marketing_phone", "analytics_cookies", "advertising_pixels", "surveys",
            "share_marketing_partners"]  # fmt: skip
CHANNELS = ["cookie_banner", "web_form", "api"]
FOREIGN_KEYS = [
    ("subject_id", "inventory_datasubject (id)"),
    ("purpose_id", "consent_purpose (id)"),
    ("policy_version_id", "consent_policyversion (id)"),
    ("import_batch_id", "consent_consentimport (id)"),
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]


def make_subjects(count: int) -> list[int]:
    from inventory import crypto
    from inventory.models import DataKey, DataSubject

    subjects = [
        DataSubject(
            public_id=uuid.uuid4(),
            email=f"bench{i}@bench.invalid",
            email_normalized=f"bench{i}@bench.invalid",
        )
        for i in range(count)
    ]
    with transaction.atomic():
        DataSubject.objects.bulk_create(subjects, batch_size=5000)
        DataKey.objects.bulk_create(
            [DataKey(subject_id=s.pk, wrapped=crypto.new_wrapped_key()) for s in subjects], batch_size=5000
        )
    return [s.pk for s in subjects]


def make_events(n: int, subject_ids: list[int], rng: random.Random, evidence_share: float = 1.0):
    from consent.services import ConsentEventInput

    base = timezone.now() - timedelta(days=30)
    for i in range(n):
        yield ConsentEventInput(
            subject_id=rng.choice(subject_ids),
            purpose=rng.choice(PURPOSES),
            action="grant" if rng.random() < 0.7 else "withdraw",
            channel=rng.choice(CHANNELS),
            at=base + timedelta(seconds=rng.randint(0, 30 * 86400)),
            client_event_id=f"ev-{i}",
            collection_point="cookie-banner-v3",
            evidence={
                "ip": f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "user_agent": rng.choice(USER_AGENTS),
            }
            if rng.random() < evidence_share
            else None,
        )


def bench_service(
    n: int,
    batch: int,
    subject_ids: list[int],
    rng: random.Random,
    source: str = "bench",
    evidence_share: float = 1.0,
) -> float:
    from consent.services import consent_events_record_bulk

    events = make_events(n, subject_ids, rng, evidence_share)
    elapsed = 0.0
    done = 0
    while done < n:
        chunk = [next(events) for _ in range(min(batch, n - done))]  # generated outside the timer
        start = time.perf_counter()
        consent_events_record_bulk(events=chunk, source=source, actor="bench")
        elapsed += time.perf_counter() - start
        done += len(chunk)
        print(f"\r  service: {done:,}/{n:,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return elapsed


def bench_raw(n: int, source: str = "bench") -> float:
    """COPY (INSERT on SQLite) of exactly the rows the service wrote, into a table with the same indexes."""
    from consent.models import ConsentEvent

    table = ConsentEvent._meta.db_table
    columns = [f.column for f in ConsentEvent._meta.concrete_fields]
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column_list} FROM {table} WHERE source = %s ORDER BY id", [source])
        rows = cursor.fetchall()
    assert len(rows) == n, (len(rows), n)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Same columns, defaults, checks and indexes as the ledger, and the same deferred foreign keys.
            cursor.execute(f"CREATE TABLE bench_raw_events (LIKE {table} INCLUDING ALL)")
            for column, target in FOREIGN_KEYS:
                cursor.execute(
                    f"ALTER TABLE bench_raw_events ADD FOREIGN KEY ({column}) REFERENCES {target} "
                    "DEFERRABLE INITIALLY DEFERRED"
                )
            start = time.perf_counter()
            with (
                transaction.atomic(),
                cursor.cursor.copy(f"COPY bench_raw_events ({column_list}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            elapsed = time.perf_counter() - start
        else:
            cursor.execute(f"CREATE TABLE bench_raw_events AS SELECT * FROM {table} WHERE 0")
            cursor.execute("CREATE UNIQUE INDEX bench_raw_public ON bench_raw_events (public_id)")
            cursor.execute("CREATE INDEX bench_raw_subject ON bench_raw_events (subject_id, purpose_id, at)")
            cursor.execute("CREATE INDEX bench_raw_at ON bench_raw_events (at)")
            placeholders = ", ".join(["%s"] * len(columns))
            start = time.perf_counter()
            with transaction.atomic():
                cursor.executemany(
                    f"INSERT INTO bench_raw_events ({column_list}) VALUES ({placeholders})", rows
                )
            elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_raw_events")
    return elapsed


def bench_lookups(count: int, subject_ids: list[int], rng: random.Random) -> list[float]:
    from consent.selectors import consent_is_current

    timings = []
    for _ in range(count):
        sid, purpose = rng.choice(subject_ids), rng.choice(PURPOSES)
        start = time.perf_counter()
        consent_is_current(subject_id=sid, purpose=purpose)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def check_fold(subject_ids: list[int], rng: random.Random, sample: int = 200) -> int:
    """Sanity: for a sample of subjects the state equals the fold of the ledger. Returns mismatches.

    The fold ranks a grant at its time and a withdrawal at its receipt (issue 14: an opt-out beats
    every grant received before it), ties broken by the event id.
    """
    from consent.models import ConsentEvent, ConsentState

    def rank(e):
        return (e.recorded_at if e.action == "withdraw" else e.at, e.pk)

    bad = 0
    for sid in rng.sample(subject_ids, min(sample, len(subject_ids))):
        best = {}
        events = ConsentEvent.objects.filter(subject_id=sid).only(
            "pk", "at", "recorded_at", "action", "purpose_id"
        )
        for e in events:
            if e.purpose_id not in best or rank(e) > rank(best[e.purpose_id]):
                best[e.purpose_id] = e
        state = dict(ConsentState.objects.filter(subject_id=sid).values_list("purpose_id", "event_id"))
        bad += state != {p: e.pk for p, e in best.items()}
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="events (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=5000, help="events per service call (default 5,000)")
    parser.add_argument("--subjects", type=int, default=0, help="subjects (default n/10)")
    parser.add_argument("--lookups", type=int, default=2000, help="consent_is_current calls to time")
    parser.add_argument(
        "--evidence-share",
        type=float,
        default=1.0,
        help="share of events carrying IP/user-agent evidence, sealed per event (default 1.0: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="service then raw runs, each on n new events; the best of each counts",
    )
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()

    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = (
        f"bench_{db['NAME']}"
        if connection.vendor == "postgresql"
        else str(Path(db["NAME"]).with_suffix(".bench.sqlite3"))
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        rng = random.Random(20260101)
        n_subjects = args.subjects or max(1, args.n // 10)
        print(
            f"consent bench on {connection.vendor} ({connection.settings_dict['NAME']}): {args.n:,} events, "
            f"{n_subjects:,} subjects, batches of {args.batch:,}, {args.evidence_share:.0%} with sealed evidence"
        )
        subject_ids = make_subjects(n_subjects)

        service_runs, raw_runs = [], []
        for run in range(max(1, args.repeat)):
            source = f"bench-{run}"
            service_runs.append(
                bench_service(
                    args.n, args.batch, subject_ids, rng, source=source, evidence_share=args.evidence_share
                )
            )
            raw_runs.append(bench_raw(args.n, source=source))
        service_s, raw_s = min(service_runs), min(raw_runs)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE consent_consentstate")
        lookups = bench_lookups(args.lookups, subject_ids, rng)
        mismatches = check_fold(subject_ids, rng)

        service_rate, raw_rate = args.n / service_s, args.n / raw_s
        ratio = service_rate / raw_rate
        median = statistics.median(lookups)
        p95 = statistics.quantiles(lookups, n=20)[-1] if len(lookups) >= 20 else max(lookups)
        from consent.models import ConsentState

        print(f"service  consent_events_record_bulk: {service_s:8.2f} s  {service_rate:12,.0f} events/s")
        print(f"raw      {'COPY' if connection.vendor == 'postgresql' else 'INSERT'} of the same rows:  "
              f"{raw_s:8.2f} s  {raw_rate:12,.0f} events/s")  # fmt: skip
        print(f"ratio    service/raw = {ratio:.3f}x (goal >= 0.300x): {'OK' if ratio >= 0.3 else 'MISSED'}")
        print(f"lookup   consent_is_current median {median:.3f} ms, p95 {p95:.3f} ms over {len(lookups):,} calls "
              f"(goal < 1 ms): {'OK' if median < 1 else 'MISSED'}")  # fmt: skip
        print(
            f"state    {ConsentState.objects.count():,} rows; fold check on a sample: {mismatches} mismatches"
        )
        print(f"(load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
        print(
            f"goal service / raw COPY: {ratio:.3f}x (target >= 0.3x): {'met' if ratio >= 0.3 else 'missed'}"
        )
        print(
            f"goal consent_is_current median: {median:.3f} ms (target < 1 ms): {'met' if median < 1 else 'missed'}"
        )
        print(f"goal state equals the ledger's fold: {mismatches} mismatches (target 0): "
              f"{'met' if mismatches == 0 else 'missed'}")  # fmt: skip
    finally:
        if not args.keepdb:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
