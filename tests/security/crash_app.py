"""The production Celery app, as the crash tests' worker processes run it (tests/security/test_crash.py).

`celery -A tests.security.crash_app worker` runs privacyops.celery's app (same tasks, settings and
database) with two test-only additions, both driven by environment variables:

- CRASH_FAST_RESTORE=1: a visibility timeout of seconds instead of kombu's hour, so the message a
  killed worker held unacknowledged is redelivered to the next worker while the test waits.
- CRASH_PAUSE_AT=task|window|heartbeat with CRASH_PAUSE seconds: a sleep before each task, inside
  each retention-sweep window's transaction (after its rows are erased, before its cursor moves), or
  at each access-package heartbeat. Each pause appends its name and start time to CRASH_STATE_FILE,
  and "running" when it ends, so the test kills the process at a known kind of moment (inside a
  pause) instead of a random one.
- CRASH_DELIVERY_BATCH=n: NOTICES_DELIVERY_BATCH for this worker (small batches: several delivery
  tasks, so a worker can be killed between two of them).
"""

import os
import time

from celery.signals import task_prerun

from privacyops.celery import app

if os.environ.get("CRASH_FAST_RESTORE") == "1":
    app.conf.broker_transport_options = {
        "visibility_timeout": 3,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

PAUSE = float(os.environ.get("CRASH_PAUSE", "0") or 0)
PAUSE_AT = os.environ.get("CRASH_PAUSE_AT", "")
STATE_FILE = os.environ.get("CRASH_STATE_FILE", "")
_patched = False


def _state(line: str) -> None:
    if STATE_FILE:
        with open(STATE_FILE, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def pause(label: str) -> None:
    """Sleep, saying where and since when (wall clock), and say when the work goes on."""
    _state(f"{label}|{time.time():.3f}")
    time.sleep(PAUSE)
    _state("running")


def _patch_once() -> None:
    """Wrap the service internals where a pause is wanted (after Django is set up: first task)."""
    global _patched
    if _patched:
        return
    _patched = True
    if os.environ.get("CRASH_DELIVERY_BATCH"):
        from django.conf import settings

        settings.NOTICES_DELIVERY_BATCH = int(os.environ["CRASH_DELIVERY_BATCH"])
    if PAUSE_AT == "window":
        from retention.services import sweeps

        original_window = sweeps.sweep_window

        def window(*args, **kwargs):
            result = original_window(*args, **kwargs)
            pause("window")
            return result

        sweeps.sweep_window = window
    if PAUSE_AT == "heartbeat":
        from requests_app.services import fulfilment

        original_heartbeat = fulfilment.attempt_heartbeat

        def heartbeat(attempt_id):
            beat = original_heartbeat(attempt_id)

            def slow_beat():
                beat()
                pause("heartbeat")

            return slow_beat

        fulfilment.attempt_heartbeat = heartbeat


@task_prerun.connect
def _before_task(task=None, **_):
    _patch_once()
    if PAUSE_AT == "task":
        pause(f"task {task.name}")
