"""The per-system rate limit is shared by worker processes: slots are booked in the real Redis."""

import multiprocessing
import time
import uuid

import pytest

from connectors import ratelimit
from tests.conftest import redis_url

pytestmark = pytest.mark.redis

RATE = 20.0  # requests per second: slots 50 ms apart
EACH = 8


def _requests(url: str, key: str, start_at: float, out) -> None:
    """One worker process: EACH requests to the system, each after its slot; the instants it went."""
    while time.time() < start_at:  # both processes begin together
        time.sleep(0.001)
    slots = []
    for _ in range(EACH):
        slot = ratelimit.wait(key, RATE, time.sleep, url=url)
        slots.append(slot.at)  # the booked instant (Redis's clock), not the wake-up load may delay
    out.put(slots)


def _run_two(url: str) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    key = f"test-{uuid.uuid4().hex}"
    start_at = time.time() + 3.0  # spawned interpreters need a moment to start
    procs = [ctx.Process(target=_requests, args=(url, key, start_at, out)) for _ in range(2)]
    for p in procs:
        p.start()
    sent = sorted(out.get(timeout=60) + out.get(timeout=60))
    for p in procs:
        p.join(timeout=30)
    return sent


def test_two_processes_share_one_systems_rate_through_redis():
    sent = _run_two(redis_url())
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    # 16 requests from two processes at 20/s: one schedule, 50 ms apart (slack: the Redis round trip).
    # A per-process limit would book both processes' first slots at the same instant (gap ~0).
    assert min(gaps) >= 1 / RATE - 0.001, gaps
    assert sent[-1] - sent[0] >= (2 * EACH - 1) / RATE - 0.001


def test_two_threads_share_the_slots_and_a_key_is_per_system():
    import threading

    url, key = redis_url(), f"test-{uuid.uuid4().hex}"
    sent: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            slot = ratelimit.wait(key, RATE, time.sleep, url=url)
            with lock:
                sent.append(slot.at)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent.sort()
    assert (
        min(b - a for a, b in zip(sent, sent[1:], strict=False)) >= 1 / RATE - 0.001
    )  # 10 slots, 50 ms apart
    # Another system's key is not held up by this one's booked slots.
    assert ratelimit.wait(f"other-{key}", RATE, time.sleep, url=url).delay == 0.0
