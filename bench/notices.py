"""Benchmark the notices outbox: enqueue and deliver N notices through the worker path, and a raw render loop.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/privacyops .venv/bin/python bench/notices.py [N]
        [--batch 1000] [--keepdb]

N defaults to the issue's 100,000. The script builds its own throwaway database (`bench_<name>`,
migrated like the test runner does, templates seeded by migration), so it never touches real data,
and delivers with Django's locmem email backend.

What is measured:
- raw render: the active template rendered N times in the sandbox (subject, text, HTML): the floor
  of any notice pipeline, no database;
- enqueue: `notice_enqueue` in transactions of --batch notices (render, outbox row, audit event);
- deliver: the `deliver_notice` Celery task called through Celery's eager path (task tracing, the
  claim UPDATE, EmailMultiAlternatives into locmem, the recorded send and its audit event);
- worker path: N / (enqueue + deliver) seconds, the number quoted in the issue.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
os.environ.setdefault("DEBUG", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="notices to enqueue and deliver")
    parser.add_argument("--batch", type=int, default=1000, help="notices per enqueue transaction")
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core import mail
    from django.db import connection, transaction
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    for name in ("notices", "celery.app.trace"):  # one INFO line per notice otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    settings.DATABASES["default"].setdefault("TEST", {})
    if connection.vendor != "sqlite":
        settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_{settings.DATABASES['default']['NAME']}"
    setup_test_environment()  # locmem email backend, mail.outbox
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    from privacyops.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True

    print(f"notices bench: N={args.n:,}, batch={args.batch}, database={connection.vendor}")
    t0 = time.perf_counter()
    old_config = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb)
    print(f"  database ready in {time.perf_counter() - t0:.1f} s")
    try:
        run(args, mail, transaction)
    finally:
        if not args.keepdb:
            teardown_databases(old_config, verbosity=0)


def run(args, mail, transaction) -> None:
    from inventory.models import DataSubject
    from notices import rendering, services
    from notices.context import common_context
    from notices.models import Notice, NoticeKind, NoticeStatus
    from notices.services import common
    from notices.tasks import deliver_notice
    from notices.templates_lookup import active_template

    n = args.n
    pool = min(n, 10_000)
    subjects = DataSubject.objects.bulk_create(
        DataSubject(name=f"Bench Person {i}", email=f"bench{i}@example.com", country="US", region="CA")
        for i in range(pool)
    )
    base = {
        "request_type": "access to your personal information",
        "regime": "the California Consumer Privacy Act",
        "received_on": "2026-03-01",
        "due_on": "2026-04-15",
    }

    # --- Raw render loop ----------------------------------------------------------------------------
    template = active_template(kind=NoticeKind.REQUEST_ACKNOWLEDGED)
    import uuid

    t0 = time.perf_counter()
    for i in range(n):
        subject = subjects[i % pool]
        context = {
            **common_context(public_id=uuid.uuid4(), subject=subject, unsubscribe_url=""),
            **base,
            "reference": f"DSAR-{i:07d}",
        }
        rendering.render(
            subject_template=template.subject_template,
            body_text_template=template.body_text_template,
            body_html_template=template.body_html_template,
            context=context,
        )
    render_s = time.perf_counter() - t0

    # --- Enqueue (delivery dispatch collected, then run through the task) --------------------------
    queued: list[int] = []
    t0 = time.perf_counter()
    with mock.patch.object(common, "dispatch_notices", side_effect=queued.extend):
        for start in range(0, n, args.batch):
            with transaction.atomic():
                for i in range(start, min(n, start + args.batch)):
                    services.notice_enqueue(
                        kind=NoticeKind.REQUEST_ACKNOWLEDGED,
                        idempotency_key=f"bench:{i}",
                        context={**base, "reference": f"DSAR-{i:07d}"},
                        subject=subjects[i % pool],
                    )
    enqueue_s = time.perf_counter() - t0
    assert len(queued) == n, f"expected {n} dispatches after commit, got {len(queued)}"

    # --- Deliver through the Celery task (eager) into locmem ---------------------------------------
    sent = 0
    t0 = time.perf_counter()
    for k, notice_id in enumerate(queued, 1):
        deliver_notice.delay(notice_id)
        if k % 5000 == 0:  # keep memory flat at 100k: count and drop delivered messages
            sent += len(mail.outbox)
            mail.outbox.clear()
    sent += len(mail.outbox)
    mail.outbox.clear()
    deliver_s = time.perf_counter() - t0

    delivered = Notice.objects.filter(status=NoticeStatus.SENT).count()
    assert sent == delivered == n, f"sent {sent}, recorded {delivered}, expected {n}"

    worker_s = enqueue_s + deliver_s
    print(f"  raw render loop      {n / render_s:>10,.0f} notices/s   ({render_s:.1f} s)")
    print(f"  enqueue (outbox)     {n / enqueue_s:>10,.0f} notices/s   ({enqueue_s:.1f} s)")
    print(f"  deliver (task)       {n / deliver_s:>10,.0f} notices/s   ({deliver_s:.1f} s)")
    print(f"  worker path overall  {n / worker_s:>10,.0f} notices/s   ({worker_s:.1f} s)")
    print(f"  worker path / raw render: {render_s / worker_s:.2f}x  (all {n:,} delivered exactly once)")


if __name__ == "__main__":
    main()
