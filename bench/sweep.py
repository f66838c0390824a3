"""Benchmark: the retention sweep through its Celery task path vs raw id-range batched SQL DELETE.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/po_x .venv/bin/python bench/sweep.py 50000
    ... bench/sweep.py 1000000 --broker redis://127.0.0.1:6379/3      # a real worker on Redis

Seeds N activity records (default 1,000,000; half expired, scattered over the primary-key range) into
a dedicated PostgreSQL database (the DATABASE_URL's name + "_bench", created and migrated if missing),
then, on identical copies of the same rows:

1. raw SQL: `DELETE ... WHERE id >= lo AND id < hi AND collected_at <= cutoff`, one statement per id
   window (autocommit), the baseline;
2. the same DELETE with `RETURNING id` feeding the ids into a journal table in the same statement, as
   the sweep's erasure statement does: the floor of journaling every erased record by id (issue 6);
3. the sweep: `retention.sweep` sent as django-celery-beat would send it (eager in-process by default, or
   consumed by a real worker thread with --broker), fan-out, journal, certificate, audit and all.

The worker runs `--concurrency` threads (default 2, as docker-compose's worker), so the fan-out's
batches share the two cores; `--concurrency 1` runs them one after another.
Prints the wall times, the ratios (goal <= 1.3x), the first and last batch times, peak memory, and
checks that both erased exactly the same rows.
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_database_url(url: str | None) -> str:
    base = url or os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/sweep.py needs PostgreSQL: set DATABASE_URL=postgres://... (or pass --database-url).")
    parsed = urlparse(base)
    name = parsed.path.lstrip("/")
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunparse(parsed._replace(path=f"/{name}"))


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="PostgreSQL URL; '_bench' is appended to its database name.")
    parser.add_argument("--broker", help="Redis URL: run the sweep on a real Celery worker (threads pool).")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="Worker threads with --broker (default 2: docker-compose's `worker --concurrency=2`, one per core "
        "here). 1 runs the batches one after another.",
    )
    parser.add_argument("--batch-rows", type=int, default=None, help="Rows per fan-out task.")
    parser.add_argument("--window-rows", type=int, default=None, help="Rows per transaction window.")
    parser.add_argument("--repeat", type=int, default=1, help="Alternate raw and sweep this many times.")
    parser.add_argument("--subjects", type=int, default=2000)
    args = parser.parse_args()

    url = _bench_database_url(args.database_url)
    _ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from retention import conf

    if args.batch_rows:
        settings.RETENTION_SWEEP_BATCH_ROWS = args.batch_rows
    if args.window_rows:
        settings.RETENTION_SWEEP_WINDOW_ROWS = args.window_rows
    settings.RETENTION_SWEEP_REPORT = True  # the report is queued in the sweep's last transaction (timed)
    settings.EMAIL_BACKEND = (
        "django.core.mail.backends.dummy.EmailBackend"  # its delivery is not ours to time
    )
    batch_rows, window_rows = conf.sweep_batch_rows(), conf.sweep_window_rows()

    bench = Bench(
        rows=args.rows,
        subjects=args.subjects,
        window_rows=window_rows,
        broker=args.broker,
        concurrency=args.concurrency,
    )
    print(f"database {urlparse(url).path.lstrip('/')}; {args.rows:,} records; "
          f"{batch_rows:,} rows per task, {window_rows:,} rows per transaction; "
          f"{f'real worker on {args.broker}, concurrency {args.concurrency}' if args.broker else 'eager Celery (in-process task path)'}")  # fmt: skip
    bench.seed()
    raws, journaled, sweeps = [], [], []
    for _ in range(args.repeat):
        raws.append(bench.run_raw())
        journaled.append(bench.run_raw(journal=True))
        sweeps.append(bench.run_sweep())
    bench.close()
    _report(rows=args.rows, raws=raws, journaled=journaled, sweeps=sweeps)


def _report(*, rows: int, raws: list[dict], journaled: list[dict], sweeps: list[dict]) -> None:
    """Print the best run of each kind, the ratios against the goals, and whether the same rows went."""
    raw = min(raws, key=lambda r: r["seconds"])
    raw_journal = min(journaled, key=lambda r: r["seconds"])
    sweep = min(sweeps, key=lambda r: r["seconds"])
    print()
    print(f"expired rows              {raw['deleted']:,} of {rows:,}")
    print(f"raw batched DELETE        {raw['seconds']:.3f} s  ({raw['deleted'] / raw['seconds']:,.0f} rows/s), "
          f"{raw['batches']} statements; first {raw['first_ms']:.1f} ms, last {raw['last_ms']:.1f} ms")  # fmt: skip
    print(f"raw DELETE ... RETURNING  {raw_journal['seconds']:.3f} s  ({raw_journal['deleted'] / raw_journal['seconds']:,.0f} rows/s), "
          f"ids journaled in the same statement: {raw_journal['seconds'] / raw['seconds']:.2f}x raw, the floor of "
          "per-record journaling")  # fmt: skip
    print(f"sweep (Celery task path)  {sweep['seconds']:.3f} s  ({sweep['erased'] / sweep['seconds']:,.0f} rows/s), "
          f"{sweep['batches']} tasks, {sweep['journal_rows']} journal rows, certificate {sweep['certificate']}")  # fmt: skip
    print(f"  first batch {sweep['first_ms']} ms, last batch {sweep['last_ms']} ms "
          f"(last/first {sweep['last_ms'] / max(1, sweep['first_ms']):.2f}; goal <= 1.5); "
          f"median batch {sweep['median_ms']} ms")  # fmt: skip
    print(
        f"ratio sweep / raw         {sweep['seconds'] / raw['seconds']:.2f}x   (goal <= 1.3x, stretch 1.15x); "
        f"sweep / raw journaled DELETE {sweep['seconds'] / raw_journal['seconds']:.2f}x"
    )
    windows = sweep["windows_ms"] / 1000
    print(f"  erasure windows summed over tasks {windows:.3f} s ({windows / raw['seconds']:.2f}x raw); "
          f"opening + planning {sweep['plan_ms']:.0f} ms; closing (certificate, audit, report) {sweep['close_ms']:.0f} ms")  # fmt: skip
    same = sweep["survivors"] == raw["survivors"] == raw_journal["survivors"]
    print(f"same rows erased          {'yes' if same else 'NO'} (raw, raw journaled and sweep)")
    print(f"peak memory               {sweep['peak_rss_mb']:.0f} MB max RSS (process), "
          f"+{sweep['rss_growth_mb']:.0f} MB during the sweep")  # fmt: skip
    if len(sweeps) > 1:
        print(
            f"all runs: raw {[round(r['seconds'], 3) for r in raws]}, "
            f"raw journaled {[round(r['seconds'], 3) for r in journaled]}, sweep {[round(s['seconds'], 3) for s in sweeps]}"
        )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Bench:
    """Seeds once into a template table, then restores identical rows before each timed run."""

    TEMPLATE = "bench_activity_template"

    def __init__(
        self, *, rows: int, subjects: int, window_rows: int, broker: str | None, concurrency: int = 1
    ):
        from django.db import connection
        from django.utils import timezone

        from retention.expiry import Period

        self.rows = rows
        self.subjects = subjects
        self.window_rows = window_rows
        self.broker = broker
        self.concurrency = concurrency
        self.connection = connection
        self.as_of = timezone.now()
        self.period = Period(months=24)  # the seeded activity schedule
        self.worker = None

    def sql(self, statement: str, params=None):
        with self.connection.cursor() as cursor:
            cursor.execute(statement, params or [])
            return cursor.fetchall() if cursor.description else cursor.rowcount

    def seed(self) -> None:
        started = time.monotonic()
        self._reset_retention()
        self.sql("TRUNCATE inventory_activityevent")
        self.sql("DELETE FROM inventory_datasubject WHERE email LIKE 'bench-%%'")
        self.sql(
            "INSERT INTO inventory_datasubject (public_id, kind, name, email, email_normalized, phone, postal_address,"
            " company, role, country, region, date_of_birth, is_minor, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'person', 'Bench ' || g, 'bench-' || g || '@example.com',"
            " 'bench-' || g || '@example.com', '', '', '', '', 'US', 'CA', '', false, now(), now()"
            " FROM generate_series(1, %s) g",
            [self.subjects],
        )
        lo, hi = self.sql("SELECT min(id), max(id) FROM inventory_datasubject WHERE email LIKE 'bench-%%'")[0]
        self.sql(f"DROP TABLE IF EXISTS {self.TEMPLATE}")
        self.sql("SELECT setseed(0.42)")
        # Half expired, scattered: each row's age is drawn independently, so expired ids interleave.
        self.sql(
            f"CREATE TABLE {self.TEMPLATE} AS SELECT g AS id,"
            " %s + (g %% (%s - %s + 1)) AS subject_id,"
            " CASE WHEN random() < 0.5"
            "   THEN %s::timestamptz - interval '24 months' - random() * interval '700 days' - interval '1 day'"
            "   ELSE %s::timestamptz - interval '24 months' + interval '1 day' + random() * interval '700 days'"
            " END AS collected_at"
            " FROM generate_series(1, %s) g",
            [lo, hi, lo, self.as_of, self.as_of, self.rows],
        )
        print(f"seeded {self.rows:,} rows in {time.monotonic() - started:.1f} s")

    def _restore_rows(self) -> None:
        self.sql("TRUNCATE inventory_activityevent")
        self.sql(
            "INSERT INTO inventory_activityevent (id, subject_id, collected_at, kind, target, ip_address, device_id,"
            " cookie_id, user_agent, geo_country)"
            f" SELECT id, subject_id, collected_at, 'page_view', '/pricing', '203.0.113.7', 'dev-' || id,"
            f" 'ck-' || id, 'Mozilla/5.0 (bench)', 'US' FROM {self.TEMPLATE}"
        )
        self.sql("SELECT setval(pg_get_serial_sequence('inventory_activityevent', 'id'), %s)", [self.rows])
        self.sql("VACUUM ANALYZE inventory_activityevent")

    def _reset_retention(self) -> None:
        self.sql(
            "TRUNCATE retention_sweepbatch, retention_sweeprun, retention_erasurejournal,"
            " retention_erasurecertificate CASCADE"
        )
        self.sql("VACUUM ANALYZE retention_erasurejournal")

    def _survivors(self) -> tuple[int, int]:
        return tuple(self.sql("SELECT count(*), coalesce(sum(id), 0) FROM inventory_activityevent")[0])

    def run_raw(self, *, journal: bool = False) -> dict:
        """The baseline; with `journal`, the same DELETE also journals its ids as the sweep's statement does."""
        self._restore_rows()
        cutoff = self.period.lower_bound(self.as_of)
        statement = "DELETE FROM inventory_activityevent WHERE id >= %s AND id < %s AND collected_at <= %s"
        if journal:
            self.sql("DROP TABLE IF EXISTS bench_raw_journal")
            self.sql("CREATE TABLE bench_raw_journal (LIKE retention_erasurejournal INCLUDING ALL)")
            statement = (
                f"WITH d AS ({statement} RETURNING id) INSERT INTO bench_raw_journal"
                " (at, model_label, method, record_pks, record_count, certificate_ref)"
                " SELECT now(), 'inventory.ActivityEvent', 'delete', array_agg(id), count(*), NULL FROM d"
                " HAVING count(*) > 0 RETURNING record_count"
            )
        times = []
        deleted = 0
        started = time.monotonic()
        for lo in range(1, self.rows + 1, self.window_rows):
            t = time.monotonic()
            result = self.sql(statement, [lo, lo + self.window_rows, cutoff])
            deleted += (result[0][0] if result else 0) if journal else result
            times.append((time.monotonic() - t) * 1000)
        seconds = time.monotonic() - started
        return {"seconds": seconds, "deleted": deleted, "batches": len(times), "first_ms": times[0],
                "last_ms": times[-1], "survivors": self._survivors()}  # fmt: skip

    def _start_worker(self) -> None:
        from celery.contrib.testing.worker import start_worker

        from privacyops.celery import app

        app.conf.update(broker_url=self.broker, result_backend=self.broker, task_always_eager=False)
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        self.worker = start_worker(
            app,
            pool="solo" if self.concurrency == 1 else "threads",
            concurrency=self.concurrency,
            perform_ping_check=False,
            loglevel="WARNING",
        )
        self.worker.__enter__()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.__exit__(None, None, None)

    def run_sweep(self) -> dict:
        from django.db.models import Max

        from privacyops.celery import app
        from retention.models import ErasureJournal, SweepRun
        from retention.tasks import sweep

        self._restore_rows()
        self._reset_retention()
        if self.broker and self.worker is None:
            self._start_worker()
        if not self.broker:
            app.conf.task_always_eager = True
        rss_before = _rss_mb()
        # No record lies within a day of the cutoff, so the sweep's clock (a few seconds after the seed's)
        # expires exactly the rows the raw DELETE removes.
        started = time.monotonic()
        sweep.delay()
        while True:
            run = SweepRun.objects.exclude(status=SweepRun.Status.RUNNING).first()
            if run is not None:
                break
            time.sleep(0.01)
        seconds = time.monotonic() - started
        batches = list(run.batches.order_by("lo").values_list("duration_ms", flat=True))
        last_batch = run.batches.aggregate(last=Max("finished_at"))["last"]
        return {
            "seconds": seconds,
            "erased": run.erased_count,
            "batches": len(batches),
            "first_ms": batches[0] if batches else 0,
            "last_ms": batches[-1] if batches else 0,
            "median_ms": int(statistics.median(batches)) if batches else 0,
            "windows_ms": sum(batches),
            "plan_ms": (run.planned_at - run.started_at).total_seconds() * 1000,
            "close_ms": (run.finished_at - last_batch).total_seconds() * 1000 if last_batch else 0,
            "journal_rows": ErasureJournal.objects.filter(sweep_run=run).count(),
            "certificate": str(run.certificate.public_id)[:8] if run.certificate_id else "-",
            "survivors": self._survivors(),
            "peak_rss_mb": _rss_mb(),
            "rss_growth_mb": _rss_mb() - rss_before,
        }


if __name__ == "__main__":
    main()
