"""Benchmark: the retention sweep on a real Celery worker vs raw id-range batched SQL DELETE.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/po_x CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/sweep.py [ROWS] [--repeat 3] [--concurrency 1 2] [--keepdb]

Builds its own throw-away database (`bench_<name>`, created, migrated and dropped, as bench/discovery.py;
--keepdb keeps it), seeds ROWS activity records (default 1,000,000; half expired, scattered over the
primary-key range), then, on identical copies of the same rows, --repeat times each:

1. raw SQL: `DELETE ... WHERE id >= lo AND id < hi AND collected_at <= cutoff`, one statement per id
   window (autocommit), the baseline;
2. the same DELETE with `RETURNING id` feeding the ids into a journal table in the same statement, as
   the sweep's erasure statement does: the floor of journaling every erased record by id (issue 6);
3. the sweep: `retention.sweep` sent as django-celery-beat would send it, consumed by a real worker
   (Redis broker: --broker, else CELERY_BROKER_URL) with each --concurrency (default 1 and 2: solo, then
   two threads, as docker-compose's `worker --concurrency=2`), fan-out, journal, certificate, audit and all;
   the worker keeps its connections between tasks (CONN_MAX_AGE=60 unless set). Timed end to end: from
   sending the task to the commit of the run's closing transaction (the certificate exists), which the
   bench learns from a NOTIFY sent by a trigger on the run table (blocking, no polling interval).

Every timed run starts right after a CHECKPOINT, so none pays for writing out the pages the restore of
the rows (or an earlier run) dirtied. Prints the best run of each (wall time, rows/s, ratios), the first
and last batch times, the growth of the process's peak memory during the sweeps, checks that all erased
exactly the same rows, and ends with the goal lines of issue 19: sweep <= 1.15x the raw journaled DELETE
at each concurrency, last batch <= 1.5x the first, memory flat (peak RSS growth during the sweep <= 32 MB).
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
# Workers keep their connection between tasks, as a production worker configured with CONN_MAX_AGE does
# (privacyops/celery_fixup.py); CONN_MAX_AGE=0 in the environment measures a connection per task.
os.environ.setdefault("CONN_MAX_AGE", "60")

RATIO_TARGET = 1.15
BATCH_TARGET = 1.5
MEMORY_TARGET_MB = 32


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each kind; the best counts.")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL"), help="Redis URL of YOUR db.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2], help="Worker concurrencies.")
    parser.add_argument("--batch-rows", type=int, default=None, help="Rows per fan-out task.")
    parser.add_argument("--window-rows", type=int, default=None, help="Rows per transaction window.")
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    if not (args.broker or "").startswith("redis://"):
        sys.exit(
            "bench/sweep.py runs the sweep on a real worker: set CELERY_BROKER_URL=redis://... (your db)."
        )
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/sweep.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DEBUG = False  # as production runs: no per-query logging in memory
    from benchdb import throwaway_database

    with throwaway_database(keepdb=args.keepdb):
        measure(args, settings)


def measure(args, settings) -> None:
    from retention import conf

    if args.batch_rows:
        settings.RETENTION_SWEEP_BATCH_ROWS = args.batch_rows
    if args.window_rows:
        settings.RETENTION_SWEEP_WINDOW_ROWS = args.window_rows
    settings.RETENTION_SWEEP_REPORT = True  # the report is queued in the sweep's last transaction (timed)
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # delivery is not ours to time
    batch_rows, window_rows = conf.sweep_batch_rows(), conf.sweep_window_rows()
    bench = Bench(rows=args.rows, subjects=args.subjects, window_rows=window_rows, broker=args.broker)
    print(f"{args.rows:,} records; {batch_rows:,} rows per task, {window_rows:,} rows per window; "
          f"real worker on {args.broker}, concurrency {' and '.join(map(str, args.concurrency))}; "
          f"best of {args.repeat}")  # fmt: skip
    bench.seed()
    raws, journaled = [], []
    sweeps: dict[int, list[dict]] = {c: [] for c in args.concurrency}
    for _ in range(args.repeat):
        raws.append(bench.run_raw())
        journaled.append(bench.run_raw(journal=True))
        for concurrency in args.concurrency:
            sweeps[concurrency].append(bench.run_sweep(concurrency))
    _report(rows=args.rows, raws=raws, journaled=journaled, sweeps=sweeps)


def _report(*, rows: int, raws: list[dict], journaled: list[dict], sweeps: dict[int, list[dict]]) -> None:
    """Print the best run of each kind, the ratios, whether the same rows went, and the goal lines."""
    raw = min(raws, key=lambda r: r["seconds"])
    raw_journal = min(journaled, key=lambda r: r["seconds"])
    print()
    print(f"expired rows              {raw['deleted']:,} of {rows:,}")
    print(f"raw batched DELETE        {raw['seconds']:.3f} s  ({raw['deleted'] / raw['seconds']:,.0f} rows/s), "
          f"{raw['batches']} statements; first {raw['first_ms']:.1f} ms, last {raw['last_ms']:.1f} ms")  # fmt: skip
    print(f"raw DELETE ... RETURNING  {raw_journal['seconds']:.3f} s  ({raw_journal['deleted'] / raw_journal['seconds']:,.0f} rows/s), "
          f"ids journaled in the same statement: {raw_journal['seconds'] / raw['seconds']:.2f}x raw")  # fmt: skip
    goals = []
    same = True
    worst_batch, growth = 0.0, 0.0
    for concurrency, runs in sweeps.items():
        sweep = min(runs, key=lambda r: r["seconds"])
        ratio = sweep["seconds"] / raw_journal["seconds"]
        last_first = sweep["last_ms"] / max(1, sweep["first_ms"])
        worst_batch = max(worst_batch, last_first)
        growth = max(growth, *(r["rss_growth_mb"] for r in runs))
        same = same and all(r["survivors"] == raw["survivors"] for r in runs)
        print(f"sweep, concurrency {concurrency}     {sweep['seconds']:.3f} s  ({sweep['erased'] / sweep['seconds']:,.0f} rows/s), "
              f"{ratio:.2f}x raw journaled, {sweep['seconds'] / raw['seconds']:.2f}x raw; {sweep['batches']} tasks, "
              f"{sweep['journal_rows']} journal rows, certificate {sweep['certificate']}")  # fmt: skip
        print(f"  batches: first {sweep['first_ms']} ms, last {sweep['last_ms']} ms (last/first {last_first:.2f}), "
              f"median {sweep['median_ms']} ms, summed {sweep['windows_ms'] / 1000:.3f} s; "
              f"opening + planning {sweep['plan_ms']:.0f} ms; closing {sweep['close_ms']:.0f} ms "
              f"(last batch -> certificate); certificate -> seen committed {sweep['seen_ms']:.0f} ms")  # fmt: skip
        print(f"  all runs: {[round(r['seconds'], 3) for r in runs]}")
        goals.append((f"sweep/journaled DELETE (concurrency {concurrency})", f"{ratio:.2f}x",
                      f"<= {RATIO_TARGET}x", ratio <= RATIO_TARGET))  # fmt: skip
    print(f"all runs: raw {[round(r['seconds'], 3) for r in raws]}, "
          f"raw journaled {[round(r['seconds'], 3) for r in journaled]}")  # fmt: skip
    print(f"same rows erased          {'yes' if same else 'NO'} (raw, raw journaled and every sweep)")
    print(f"peak memory               {_rss_mb():.0f} MB max RSS (process)")
    print(f"(load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    goals.append(
        ("last/first batch", f"{worst_batch:.2f}", f"<= {BATCH_TARGET}", worst_batch <= BATCH_TARGET)
    )
    goals.append(
        ("memory growth", f"{growth:.0f} MB", f"<= {MEMORY_TARGET_MB} MB", growth <= MEMORY_TARGET_MB)
    )
    if not same:
        goals.append(("same rows erased", "no", "yes", False))
    for name, figure, target, met in goals:
        print(f"goal {name}: {figure} (target {target}): {'met' if met else 'missed'}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _wait_until_ready() -> None:
    from privacyops.celery import app

    deadline = time.monotonic() + 30
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            sys.exit("the bench's Celery worker did not answer a ping within 30 s")


class Bench:
    """Seeds once into a template table, then restores identical rows before each timed run."""

    TEMPLATE = "bench_activity_template"

    def __init__(self, *, rows: int, subjects: int, window_rows: int, broker: str):
        from django.db import connection
        from django.utils import timezone

        from retention.expiry import Period

        self.rows = rows
        self.subjects = subjects
        self.window_rows = window_rows
        self.broker = broker
        self.connection = connection
        self.as_of = timezone.now()
        self.period = Period(months=24)  # the seeded activity schedule

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

    def _checkpoint(self) -> None:
        """Right before a timed run: the dirty pages of the restore are written now, not during the run."""
        self.sql("CHECKPOINT")

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
        self._checkpoint()
        started = time.monotonic()
        for lo in range(1, self.rows + 1, self.window_rows):
            t = time.monotonic()
            result = self.sql(statement, [lo, lo + self.window_rows, cutoff])
            deleted += (result[0][0] if result else 0) if journal else result
            times.append((time.monotonic() - t) * 1000)
        seconds = time.monotonic() - started
        return {"seconds": seconds, "deleted": deleted, "batches": len(times), "first_ms": times[0],
                "last_ms": times[-1], "survivors": self._survivors()}  # fmt: skip

    def _worker(self, concurrency: int):
        """A worker thread in this process, consuming the bench's own Redis db (flushed first)."""
        from celery.contrib.testing.worker import start_worker

        from privacyops.celery import app

        app.conf.update(broker_url=self.broker, result_backend=self.broker, task_always_eager=False)
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        return start_worker(
            app,
            pool="solo" if concurrency == 1 else "threads",
            concurrency=concurrency,
            perform_ping_check=False,
            loglevel="WARNING",
        )

    DONE_CHANNEL = "bench_sweep_done"

    def _install_done_notice(self) -> None:
        """A trigger on the run table NOTIFYs when a run leaves "running": PostgreSQL delivers it when the
        closing transaction commits, i.e. the moment the certificate exists for every reader. The bench
        blocks on it (no polling stealing the worker's CPU or adding up to a poll interval)."""
        self.sql(
            "CREATE OR REPLACE FUNCTION bench_sweep_done() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_notify('{self.DONE_CHANNEL}', NEW.id::text); RETURN NULL; END $$"
        )
        self.sql(
            "CREATE OR REPLACE TRIGGER bench_sweep_done AFTER UPDATE OF status ON retention_sweeprun"
            " FOR EACH ROW WHEN (NEW.status <> 'running') EXECUTE FUNCTION bench_sweep_done()"
        )

    def _wait_for_certificate(self, run_model) -> tuple:
        """Block until the run is closed (its NOTIFY), re-checking the table each second in case of a miss.
        Returns the run and the monotonic time the closing commit was seen (the NOTIFY's arrival, before
        the confirming query, whose own time is the bench's, not the sweep's)."""
        self.connection.ensure_connection()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            seen = None
            for _ in self.connection.connection.notifies(timeout=1.0, stop_after=1):
                seen = time.monotonic()
            run = run_model.objects.exclude(status=run_model.Status.RUNNING).first()
            if run is not None and run.certificate_id:
                return run, seen or time.monotonic()
        sys.exit("the sweep did not finish within 10 minutes")

    def run_sweep(self, concurrency: int) -> dict:
        from datetime import timedelta

        from django.db.models import Max
        from django.utils import timezone

        from retention.models import ErasureJournal, SweepRun
        from retention.tasks import sweep

        self._restore_rows()
        self._reset_retention()
        self._install_done_notice()
        with self._worker(concurrency):
            _wait_until_ready()  # a production worker is running already: its start-up is not timed
            rss_before = _rss_mb()
            self._checkpoint()
            # No record lies within a day of the cutoff, so the sweep's clock (a few seconds after the
            # seed's) expires exactly the rows the raw DELETE removes.
            self.sql(f"LISTEN {self.DONE_CHANNEL}")
            started = time.monotonic()
            sweep.delay()
            run, ended = self._wait_for_certificate(SweepRun)
            seconds = ended - started
            seen = timezone.now() - timedelta(seconds=time.monotonic() - ended)
            self.sql(f"UNLISTEN {self.DONE_CHANNEL}")
            rss_after = _rss_mb()
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
            "seen_ms": (seen - run.finished_at).total_seconds() * 1000,
            "journal_rows": ErasureJournal.objects.filter(sweep_run=run).count(),
            "certificate": str(run.certificate.public_id)[:8] if run.certificate_id else "-",
            "survivors": self._survivors(),
            "peak_rss_mb": _rss_mb(),
            "rss_growth_mb": rss_after - rss_before,
        }


if __name__ == "__main__":
    main()
