"""Benchmark the notices outbox at breach scale against a baseline that includes sending.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops \\
        [TEST_REDIS_URL=redis://127.0.0.1:6379/15] .venv/bin/python bench/notices.py [N] [--repeat 1]
        [--batch 1000] [--legacy 2000] [--baseline-n N] [--keepdb]

N defaults to the issue's 100,000. The script builds its own throw-away database (`bench_<name>`,
created, migrated and dropped, templates seeded by migration), never touching real data, and starts
a real SMTP server on loopback (aiosmtpd, tests/smtpserver.py, in its own process) that every
path sends to.

What is measured (best of --repeat):
- baseline: (best of a run before and one after the outbox path) a plain loop that renders each message
  (subject, text, HTML, the same template and context) and sends it over ONE reused SMTP connection to
  the same server; no database. --baseline-n sends fewer messages (a rate: nothing in it grows with N);
- legacy enqueue: `notice_enqueue` one by one (the path of today) for --legacy notices, for the rate;
- bulk enqueue: `notice_enqueue_many` in transactions of --batch notices;
- delivery: the `deliver_notice_batch` tasks run by a real Celery worker consuming from Redis (solo
  pool, in a thread of this process), until every notice is recorded sent;
- outbox path: N / (bulk enqueue + delivery) seconds, then checked, not assumed: one outbox row per
  idempotency key, every row recorded sent, and the server accepted each row's Message-ID exactly once
  and no other message (a re-send carries the same Message-ID, so a duplicate would show).

Goals (issue 19): outbox path >= 0.5x baseline; bulk enqueue >= 10x legacy enqueue; SMTP connections
opened <= N/100; memory flat in N (peak RSS growth of the process, worker thread included, over the
outbox path alone; Linux's high-water mark is reset first; tracemalloc is too slow).
"""

import argparse
import os
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
os.environ.setdefault("DEBUG", "1")

BASE = {
    "request_type": "access to your personal information",
    "regime": "the California Consumer Privacy Act",
    "received_on": "2026-03-01",
    "due_on": "2026-04-15",
}


def goal(name: str, figure: str, target: str, met: bool) -> str:
    return f"goal {name}: {figure} (target {target}): {'met' if met else 'missed'}"


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class peak_rss:
    """Peak resident memory of this process (bench, worker thread) over a block, in MB above its start.

    Linux resets the high-water mark when "5" is written to /proc/self/clear_refs, so the peak is the
    block's own, not the bench's earlier one (the baseline's subjects list, the legacy run)."""

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self.reset = True
        except OSError:  # not Linux or not allowed: fall back on the lifetime peak (an over-estimate)
            self.reset = False
        self.start_kb = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc):
        peak_kb = _status_kb("VmHWM") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.growth_mb = (peak_kb - self.start_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="notices (default 100,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    parser.add_argument("--batch", type=int, default=1000, help="notices per bulk enqueue transaction")
    parser.add_argument("--legacy", type=int, default=2000, help="notices through today's notice_enqueue")
    parser.add_argument("--baseline-n", type=int, default=None,
                        help="messages the baseline sends (default N); its rate does not depend on N (no database)")  # fmt: skip
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # phases show as they finish (a 100,000 run takes a while)

    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    from tests.smtpserver import SMTPServerProcess

    # DEBUG=1 (the development settings) keeps the last 9,000 statements per connection, each bulk INSERT
    # with every rendered body in it: hundreds of MB at N=100,000 that production (DEBUG off) never holds.
    settings.DEBUG = False
    for name in ("notices", "celery", "celery.app.trace", "mail.log"):
        logging.getLogger(name).setLevel(logging.ERROR)
    settings.DATABASES["default"].setdefault("TEST", {})
    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_{settings.DATABASES['default']['NAME']}"
    setup_test_environment()
    smtp = SMTPServerProcess().start()
    for key, value in smtp.django_settings().items():
        setattr(settings, key, value)

    print(f"notices bench: N={args.n:,}, batch={args.batch}, repeat={args.repeat}, database={connection.vendor}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")  # fmt: skip
    t0 = time.perf_counter()
    old_config = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb)
    print(f"  database ready in {time.perf_counter() - t0:.1f} s")
    try:
        with worker():
            run(args, smtp)
    finally:
        smtp.stop()
        if not args.keepdb:
            teardown_databases(old_config, verbosity=0)


class worker:
    """A real Celery worker (solo pool, in a thread) consuming from Redis, as the test suite's."""

    def __enter__(self):
        from celery.contrib.testing.worker import start_worker

        from privacyops.celery import app

        url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
        app.conf.update(broker_url=url, result_backend=None, task_always_eager=False, task_ignore_result=True)
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        self._ctx = start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="ERROR", shutdown_timeout=30
        )
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def make_subjects(n: int) -> list:
    from inventory.models import DataSubject

    return DataSubject.objects.bulk_create(
        (DataSubject(name=f"Bench Person {i}", email=f"bench{i}@example.com", country="US", region="CA")
         for i in range(n)),
        batch_size=5000,
    )  # fmt: skip


def baseline(n: int, subjects: list) -> float:
    """Render and send each message over one reused SMTP connection; no database."""
    from django.core.mail import get_connection

    from notices import conf, rendering
    from notices.context import common_context
    from notices.models import Notice, NoticeKind
    from notices.services import build_message
    from notices.templates_lookup import active_template

    template = active_template(kind=NoticeKind.REQUEST_ACKNOWLEDGED)
    mailer = get_connection(fail_silently=False)
    mailer.open()  # before the clock: the first open resolves this host's name (DNS_NAME), once
    t0 = time.perf_counter()
    for i in range(n):
        subject = subjects[i]
        public_id = uuid.uuid4()
        context = {**common_context(public_id=public_id, subject=subject, unsubscribe_url=""), **BASE,
                   "reference": f"DSAR-{i:07d}"}  # fmt: skip
        rendered = rendering.render(
            subject_template=template.subject_template,
            body_text_template=template.body_text_template,
            body_html_template=template.body_html_template,
            context=context,
        )
        message = build_message(
            Notice(public_id=public_id, to_email=subject.email, email_subject=rendered.subject,
                   body_text=rendered.text, body_html=rendered.html,
                   headers={"X-Privacyops-Notice": str(public_id), "Auto-Submitted": "auto-generated"}),
            connection=mailer,
        )  # fmt: skip
        assert mailer.send_messages([message]) == 1
    mailer.close()
    del conf
    return time.perf_counter() - t0


def legacy_enqueue(n: int, subjects: list, tag: str) -> float:
    from unittest import mock

    from django.db import transaction

    from notices import services
    from notices.models import NoticeKind
    from notices.services import common

    t0 = time.perf_counter()
    with mock.patch.object(common, "dispatch_notices", lambda ids: None), transaction.atomic():
        for i in range(n):
            services.notice_enqueue(kind=NoticeKind.REQUEST_ACKNOWLEDGED, idempotency_key=f"legacy{tag}:{i}",
                                    context={**BASE, "reference": f"DSAR-{i:07d}"}, subject=subjects[i])  # fmt: skip
    return time.perf_counter() - t0


def bulk_enqueue(n: int, batch: int, subjects: list, tag: str) -> tuple[float, list[int]]:
    from unittest import mock

    from django.db import transaction

    from notices.models import NoticeKind
    from notices.services import BulkItem, common, notice_enqueue_many

    created: list[int] = []
    t0 = time.perf_counter()
    with mock.patch.object(common, "dispatch_notice_batches", created.extend):
        for start in range(0, n, batch):
            items = [BulkItem(f"bulk{tag}:{i}", {**BASE, "reference": f"DSAR-{i:07d}"}, subject=subjects[i])
                     for i in range(start, min(n, start + batch))]  # fmt: skip
            with transaction.atomic():
                notice_enqueue_many(kind=NoticeKind.REQUEST_ACKNOWLEDGED, items=items, actor="bench")
    return time.perf_counter() - t0, created


def deliver(ids: list[int]) -> float:
    from django.db import connection

    from notices.models import Notice, NoticeStatus
    from notices.services import common

    t0 = time.perf_counter()
    common.dispatch_notice_batches(ids)  # what the on-commit hook does: tasks of ids to Redis
    lo, hi = min(ids), max(ids)
    while True:
        time.sleep(0.5)  # each poll counts up to N rows: not so often that it slows the worker down
        done = Notice.objects.filter(pk__gte=lo, pk__lte=hi, status=NoticeStatus.SENT).count()
        if done >= len(ids):
            break
        if time.perf_counter() - t0 > 3600:
            raise SystemExit(f"delivery stalled at {done} of {len(ids)}")
    connection.close()
    return time.perf_counter() - t0


def verify_sent_once(n: int, tag: str, smtp) -> str:
    """Every notice recorded sent exactly once, checked rather than assumed: one row per idempotency key
    in the database, every row sent, and the server accepted each row's Message-ID exactly once (a
    re-send carries the same Message-ID, so a duplicate shows) and nothing else."""
    from collections import Counter

    from notices.models import Notice, NoticeStatus

    prefix = f"bulk{tag}:"
    per_key: Counter = Counter()
    recorded_ids: set[str] = set()
    unsent = 0
    rows = Notice.objects.filter(idempotency_key__startswith=prefix).values_list("idempotency_key", "public_id",
                                                                                 "status")  # fmt: skip
    for key, public_id, status in rows.iterator(chunk_size=5000):
        per_key[key] += 1
        recorded_ids.add(Notice(public_id=public_id).message_id)
        unsent += status != NoticeStatus.SENT
    received = Counter(smtp.message_ids())
    problems = []
    missing = sum(1 for i in range(n) if f"{prefix}{i}" not in per_key)
    if missing or len(per_key) != n:
        problems.append(f"{missing} keys without a notice, {len(per_key)} keys in the outbox for {n}")
    if any(count != 1 for count in per_key.values()):
        problems.append(f"{sum(1 for c in per_key.values() if c != 1)} keys with more than one row")
    if unsent:
        problems.append(f"{unsent} notices not recorded sent")
    if any(count != 1 for count in received.values()):
        problems.append(f"{sum(1 for c in received.values() if c != 1)} messages received more than once")
    if set(received) != recorded_ids:
        problems.append(f"{len(recorded_ids - set(received))} recorded sent but never received, "
                        f"{len(set(received) - recorded_ids)} received but not recorded")  # fmt: skip
    if problems:
        raise SystemExit("exactly-once check failed: " + "; ".join(problems))
    return (f"{len(per_key):,} keys, one row each, all recorded sent; {sum(received.values()):,} messages "
            f"received by the server, {len(received):,} distinct Message-IDs, each exactly once")  # fmt: skip


def run(args, smtp) -> None:
    from notices.models import Notice

    n = args.n
    subjects = make_subjects(n)
    legacy_n = min(args.legacy, n)
    base_n = min(args.baseline_n or n, n)
    best: dict[str, float] = {}
    connections_per_run: list[int] = []
    growth_per_run: list[float] = []
    for rep in range(args.repeat):
        tag = f"{uuid.uuid4().hex[:8]}.{rep}"  # fresh keys even in a kept database (--keepdb)
        smtp.reset()
        base_s = baseline(base_n, subjects)
        base_messages = smtp.stats()[0]
        print(f"  baseline: {base_n:,} messages in {base_s:.1f} s (load {os.getloadavg()[0]:.2f})")
        legacy_s = legacy_enqueue(legacy_n, subjects, tag=tag)
        smtp.reset()
        with peak_rss() as memory:
            enqueue_s, ids = bulk_enqueue(n, args.batch, subjects, tag=tag)
            print(f"  bulk enqueue: {n:,} notices in {enqueue_s:.1f} s (load {os.getloadavg()[0]:.2f})")
            deliver_s = deliver(ids)
            print(f"  delivery: {n:,} notices in {deliver_s:.1f} s (load {os.getloadavg()[0]:.2f})")
        growth_per_run.append(memory.growth_mb)
        connections = smtp.stats()[2]
        print(f"  run {rep + 1}: exactly once: {verify_sent_once(n, tag, smtp)}")
        smtp.reset()
        base_s = min(base_s, baseline(base_n, subjects))  # before and after: no order bias on a busy machine
        assert base_messages == base_n, f"baseline sent {base_messages} of {base_n}"
        connections_per_run.append(connections)
        for key, value in (("baseline", base_s), ("legacy", legacy_s), ("enqueue", enqueue_s),
                           ("deliver", deliver_s), ("outbox", enqueue_s + deliver_s)):  # fmt: skip
            best[key] = min(best.get(key, value), value)
        print(f"  run {rep + 1}: baseline {base_n / base_s:,.0f}/s; legacy enqueue {legacy_n / legacy_s:,.0f}/s; "
              f"bulk enqueue {n / enqueue_s:,.0f}/s; delivery {n / deliver_s:,.0f}/s; "
              f"outbox path {n / (enqueue_s + deliver_s):,.0f}/s; SMTP connections {connections}")  # fmt: skip
        Notice.objects.filter(pk__gte=min(ids), pk__lte=max(ids)).delete()  # the next run: an empty outbox

    sizes = {"legacy": legacy_n, "baseline": base_n}
    rates = {k: sizes.get(k, n) / v for k, v in best.items()}
    print(
        f"  baseline (render + send, one connection)  {rates['baseline']:>10,.0f} notices/s  ({base_n:,} messages)"
    )
    print(
        f"  legacy enqueue (notice_enqueue)           {rates['legacy']:>10,.0f} notices/s  ({legacy_n:,} notices)"
    )
    print(f"  bulk enqueue (notice_enqueue_many)        {rates['enqueue']:>10,.0f} notices/s")
    print(f"  delivery (real worker, batches)           {rates['deliver']:>10,.0f} notices/s")
    print(
        f"  outbox path (bulk enqueue + delivery)     {rates['outbox']:>10,.0f} notices/s  (all {n:,} sent once)"
    )
    growth = max(growth_per_run)
    ratio = rates["outbox"] / rates["baseline"]
    speedup = rates["enqueue"] / rates["legacy"]
    conns = max(connections_per_run)
    print(goal("outbox path / baseline", f"{ratio:.2f}x", ">= 0.50x", ratio >= 0.5))
    print(goal("bulk enqueue / legacy enqueue", f"{speedup:.1f}x", ">= 10x", speedup >= 10))
    print(goal("SMTP connections", f"{conns:,}", f"<= {n // 100:,}", conns <= n // 100))
    print(goal("memory growth over the outbox path", f"{growth:.0f} MB peak RSS", "<= 200 MB", growth <= 200))


if __name__ == "__main__":
    main()
