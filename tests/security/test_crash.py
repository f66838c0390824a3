"""Crash tests: a retention sweep, an access-package job and a breach-notice batch, each run by a real
`celery worker` process on Redis against the test database, killed with SIGKILL midway, then finished by
a new worker process. The outcome must equal a clean run: nothing lost, nothing done twice.

Kills are timed, not random: the worker (tests/security/crash_app.py, the production app plus test
pauses) writes where it pauses, and the test kills it during a pause once progress shows in the
database: inside a sweep window's transaction, during a package build, between two notice deliveries.
Mail goes to the file backend in a temporary directory, so every message the worker processes sent
can be counted. Every wait polls the database with a timeout; no sleep is an assertion.
"""

import datetime as dt
import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import notices.tasks  # noqa: F401 - tasks registered before the Celery app is finalized
import requests_app.tasks  # noqa: F401
from inventory import models as inv
from notices.models import Breach, Notice, NoticeKind, NoticeStatus
from notices.services import breach_notify_start
from requests_app import conf
from requests_app.models import AccessPackage, FulfilmentAttempt, PrivacyRequest, RequestType, Status
from requests_app.services import fulfilment_watchdog, request_release_approve, request_verify_manually
from retention.models import ErasureJournal, SweepBatch, SweepRun
from retention.tasks import sweep
from tests.conftest import redis_url, reset_celery_connections
from tests.factories import DataSubjectFactory, make_full_subject
from tests.notices.factories import make_breach
from tests.requests_app.factories import make_case
from tests.retention import factories as rf

from .world import OFFICER, make_role_user

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
TIMEOUT = 90
PAUSE = 0.6  # seconds the first worker sleeps at each pause point (the test kills it in one)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _wait(check, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Workers:
    """Real `celery worker` processes (solo pool) on the test database and the test Redis."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.mail = tmp_path / "mail"
        self.mail.mkdir()
        self.state = tmp_path / "worker-state.txt"
        self.procs: list[subprocess.Popen] = []
        self.killed = 0

    def start(
        self, *, pause_at: str = "", pause: float = 0.0, fast_restore: bool = False, **env
    ) -> subprocess.Popen:
        n = len(self.procs) + 1
        environment = {
            **os.environ,
            "DEBUG": os.environ.get("DEBUG", "1"),
            "DATABASE_URL": _database_url(),  # the test database, not the development one
            "CELERY_BROKER_URL": redis_url(),
            "CELERY_RESULT_BACKEND": "",
            "EMAIL_URL": f"filemail:///{self.mail}",  # three slashes + an absolute path
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SITE_URL": settings.SITE_URL,
            "CRASH_PAUSE_AT": pause_at,
            "CRASH_PAUSE": str(pause),
            "CRASH_STATE_FILE": str(self.state),
            "CRASH_FAST_RESTORE": "1" if fast_restore else "0",
            **{k: str(v) for k, v in env.items()},
        }
        log = open(self.tmp / f"worker-{n}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(CELERY), "-A", "tests.security.crash_app", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "-n", f"crash{n}@%h"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        proc.log = log
        self.procs.append(proc)
        return proc

    def paused_at(self, label: str, *, pause: float) -> bool:
        """The worker sleeps in a pause of this kind with at least a third of it left (time to kill it)."""
        lines = self.state.read_text().splitlines() if self.state.exists() else []
        if not lines or not lines[-1].startswith(label + "|"):
            return False
        started = float(lines[-1].rsplit("|", 1)[1])
        return time.time() - started < pause * 2 / 3

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)  # no shutdown, no ack, no clean-up: a lost machine
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        self.killed += 1

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=20)
            proc.log.close()

    def log_tail(self) -> str:
        return "\n".join(
            (self.tmp / f"worker-{i + 1}.log").read_text()[-3000:] for i in range(len(self.procs))
        )

    def sent_to(self) -> Counter:
        """How many messages each address received (one file per delivery with the file backend)."""
        counts: Counter = Counter()
        for path in self.mail.iterdir():
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    counts[email.message_from_string(chunk.strip())["To"]] += 1
        return counts


@pytest.fixture
def workers(tmp_path, settings, monkeypatch):
    """Publish to the test Redis from this process (no eager tasks), run workers in other processes."""
    from privacyops.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its configuration (Settings.broker_url):
    # with it set to another Redis than TEST_REDIS_URL, this process would publish where no worker listens.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url())
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # this process sends nothing
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url(), result_backend=None, task_always_eager=False)
    reset_celery_connections(app)
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        app.conf.update(saved)
        reset_celery_connections(app)


def test_a_sweep_killed_inside_a_window_finishes_on_a_new_worker_erasing_each_record_once(workers):
    rf.only_these_schedules()
    rf.schedule("activity", months=24)
    owner = rf.subject()
    long_ago, recently = timezone.now() - dt.timedelta(days=900), timezone.now() - dt.timedelta(days=3)
    rows = [inv.ActivityEvent(subject=owner, collected_at=long_ago, kind="page_view", target=f"/old/{i}")
            for i in range(240)] + [
           inv.ActivityEvent(subject=owner, collected_at=recently, kind="page_view", target=f"/new/{i}")
            for i in range(30)]  # fmt: skip
    inv.ActivityEvent.objects.bulk_create(rows)
    expired = set(inv.ActivityEvent.objects.filter(collected_at=long_ago).values_list("pk", flat=True))
    young = set(inv.ActivityEvent.objects.filter(collected_at=recently).values_list("pk", flat=True))
    sizes = {"RETENTION_SWEEP_BATCH_ROWS": 90, "RETENTION_SWEEP_WINDOW_ROWS": 15}

    first = workers.start(pause_at="window", pause=PAUSE, **sizes)
    sweep.delay()

    def mid_batch():
        # The database first, the pause last: the kill follows the pause check at once.
        return SweepBatch.objects.filter(
            status=SweepBatch.Status.PENDING, cursor__gt=F("lo")
        ).exists() and workers.paused_at("window", pause=PAUSE)

    _wait(mid_batch, "a batch part-way through its windows")
    workers.kill(first)
    run = SweepRun.objects.get()
    erased_before_restart = len(expired) - inv.ActivityEvent.objects.filter(pk__in=expired).count()
    assert run.status == SweepRun.Status.RUNNING and 0 < erased_before_restart < len(expired)

    workers.start(fast_restore=True, **sizes)
    run = _wait(
        lambda: SweepRun.objects.exclude(status=SweepRun.Status.RUNNING).first(), "the sweep to finish"
    )

    # What a clean run gives: every expired record erased exactly once, nothing else touched.
    assert run.status == SweepRun.Status.DONE, workers.log_tail()
    assert set(inv.ActivityEvent.objects.values_list("pk", flat=True)) == young
    journaled = Counter(
        pk
        for pks in ErasureJournal.objects.filter(
            sweep_run=run, model_label="inventory.ActivityEvent"
        ).values_list("record_pks", flat=True)
        for pk in pks
    )
    assert set(journaled) == expired and set(journaled.values()) == {1}
    assert run.summary["activity"] == {"erased": len(expired), "kept": 0, "errors": 0}
    assert run.certificate.erased_count == len(expired)
    assert not run.batches.exclude(status=SweepBatch.Status.DONE).exists()
    assert sum(run.batches.values_list("erased", flat=True)) == len(expired)
    assert workers.killed == 1


def test_an_access_package_job_killed_mid_build_is_rebuilt_once_and_the_case_completes(workers):
    officer = make_role_user(OFFICER)
    jane = make_full_subject(email="crash.access@example.org", name="Crash Access")
    first = workers.start(pause_at="heartbeat", pause=PAUSE)
    case = make_case(request_type=RequestType.ACCESS, subject_email=jane.email, subject_name=jane.name)
    request_verify_manually(case=case, method="phone", level="basic", reason="Called back", actor=officer)
    attempt = FulfilmentAttempt.objects.get(case=case)

    _wait(
        lambda: (
            FulfilmentAttempt.objects.filter(
                pk=attempt.pk, state="running", heartbeat_at__isnull=False
            ).exists()
            and workers.paused_at("heartbeat", pause=PAUSE)
        ),
        "the package build to be under way",
    )
    workers.kill(first)
    assert not AccessPackage.objects.filter(case=case).exists()
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.IN_PROGRESS

    # The watchdog (beat, every few minutes) sees no heartbeat for longer than a task may run.
    with time_machine.travel(timezone.now() + conf.stuck_after() + dt.timedelta(minutes=1)):
        assert fulfilment_watchdog()["requeued"] == 1
    workers.start(fast_restore=True)
    # The rebuilt package waits for the officer (REQUESTS_RELEASE_NEEDS_APPROVAL, on in the workers).
    _wait(
        lambda: PrivacyRequest.objects.filter(pk=case.pk, status=Status.AWAITING_APPROVAL).exists(),
        "the package",
    )
    request_release_approve(case=PrivacyRequest.objects.get(pk=case.pk), actor=officer)
    _wait(lambda: PrivacyRequest.objects.filter(pk=case.pk, status=Status.COMPLETED).exists(), "the case")
    _wait(lambda: not Notice.objects.exclude(status=NoticeStatus.SENT).exists(), "every notice sent")

    assert AccessPackage.objects.filter(case=case).count() == 1, workers.log_tail()
    package = AccessPackage.objects.get(case=case)
    assert package.record_count > 0
    assert sorted(FulfilmentAttempt.objects.filter(case=case).values_list("number", "state")) == [
        (1, "abandoned"),
        (2, "succeeded"),
    ]
    assert Notice.objects.filter(kind=NoticeKind.REQUEST_COMPLETED).count() == 1
    sent = workers.sent_to()
    assert sent == Counter({jane.email: Notice.objects.filter(to_email=jane.email).count()}), sent
    assert workers.killed == 1


def test_a_breach_notice_batch_killed_between_deliveries_sends_each_notice_exactly_once(workers):
    people = [DataSubjectFactory(email=f"breach{i}@example.org", region="CA") for i in range(24)]
    # Issue 19: the breach batch is bulk enqueued and delivered in batch tasks (4 notices each here).
    first = workers.start(pause_at="task", pause=PAUSE, CRASH_DELIVERY_BATCH=4)
    with transaction.atomic():
        breach = make_breach(selection={"regions": ["CA"]})
        breach_notify_start(breach_id=breach.pk)

    def part_way():
        sent = Notice.objects.filter(kind=NoticeKind.BREACH_NOTIFICATION, status=NoticeStatus.SENT).count()
        return 6 <= sent < len(people) and workers.paused_at("task notices.deliver_notice_batch", pause=PAUSE)

    _wait(part_way, "some breach notices sent, others not yet")
    workers.kill(first)
    sent_before = Notice.objects.filter(status=NoticeStatus.SENT).count()
    assert sent_before < len(people)

    workers.start(fast_restore=True, CRASH_DELIVERY_BATCH=4)
    _wait(
        lambda: (
            Notice.objects.filter(kind=NoticeKind.BREACH_NOTIFICATION, status=NoticeStatus.SENT).count()
            == len(people)
        ),
        "every breach notice sent",
    )
    notices = Notice.objects.filter(kind=NoticeKind.BREACH_NOTIFICATION)
    assert notices.count() == len(people)
    assert sorted(notices.values_list("subject_id", flat=True)) == sorted(p.pk for p in people)
    assert set(notices.values_list("attempts", flat=True)) == {1}
    assert workers.sent_to() == Counter({p.email: 1 for p in people})
    assert Breach.objects.get(pk=breach.pk).notify_enqueued == len(people)
    assert workers.killed == 1
