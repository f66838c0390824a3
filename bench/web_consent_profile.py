"""Profile: the Python CPU of one website consent choice, in-process (issue 18).

    DATABASE_URL=postgres://... .venv/bin/python bench/web_consent_profile.py [--requests 1000]
        [--cprofile] [--sample]

bench/web_consent.py measures through gunicorn, where the 2-core machine's CPU is shared between the
workers, PostgreSQL and the load client (and whatever else runs): its figures move with the load. This
one posts the same first-visit choices through Django's test client in one process, with the same
production-like settings (DEBUG off, throw-away secrets, the Redis cache at CACHE_URL, else
redis://127.0.0.1:6379/5) against a throw-away database, and reports this process's CPU time per choice
(and per bare 204 request through the same middleware), which the load moves far less, and the CPU time
of the PostgreSQL backend serving it (from /proc, when the server runs on this machine). --cprofile prints
cProfile's tables (tottime, cumulative; its per-call overhead inflates small functions), --sample a
statistical profile (SIGPROF every few ms: unbiased shares, own and inclusive).
"""

import argparse
import collections
import cProfile
import json
import os
import pstats
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from web_consent_env import ORIGIN, production_settings  # noqa: E402

os.environ.update(production_settings(allowed_hosts="127.0.0.1,localhost,testserver"))

import django  # noqa: E402

django.setup()

from benchdb import throwaway_database  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

HEADERS = {
    "HTTP_ORIGIN": ORIGIN,
    "HTTP_CF_IPCOUNTRY": "DE",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) bench/web_consent_profile",
}


def backend_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process on this machine, from /proc (nan when it can't be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per_call(call, n: int, backend: int) -> tuple[float, float]:
    """This process's and the PostgreSQL backend's CPU time per call, each the best of three runs of n."""
    best, best_backend = float("inf"), float("inf")
    for _ in range(3):
        start, start_backend = time.process_time(), backend_cpu_seconds(backend)
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - start) * 1000 / n)
        best_backend = min(best_backend, (backend_cpu_seconds(backend) - start_backend) * 1000 / n)
    return best, best_backend


def sampled(call, n: int, top: int = 40) -> None:
    """A statistical profile of n calls: each SIGPROF tick counts the running function and its callers."""
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()

    def tick(signum, frame) -> None:
        seen = set()
        first = True
        while frame is not None:
            code = frame.f_code
            name = f"{code.co_filename.split('site-packages/')[-1]}:{code.co_firstlineno}({code.co_name})"
            if first:
                own[name] += 1
                first = False
            if name not in seen:
                inclusive[name] += 1
                seen.add(name)
            frame = frame.f_back

    signal.signal(signal.SIGPROF, tick)
    signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)
    try:
        for _ in range(n):
            call()
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
    total = sum(own.values()) or 1
    print(f"{total} samples; own time:")
    for name, count in own.most_common(top):
        print(f"{100 * count / total:5.1f}% {name}")
    print("inclusive:")
    for name, count in inclusive.most_common(top * 2):
        print(f"{100 * count / total:5.1f}% {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="choices per timed run (default 1000)")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's tables for one run")
    parser.add_argument("--sample", action="store_true", help="print a statistical profile of one run")
    parser.add_argument(
        "--return-visits", action="store_true",
        help="profile return visits (devices changing their minds) instead of first visits",
    )  # fmt: skip
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/web_consent_profile.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    with throwaway_database():
        client = Client(**HEADERS)
        banner = client.get("/consent/web/config").json()["banner"]["sha256"]
        body = json.dumps(
            {"choices": {"analytics": True, "advertising": False, "widgets": False}, "banner_sha256": banner}
        )

        def choice() -> None:
            response = client.post("/consent/web/choice", body, content_type="application/json")
            assert response.status_code == 200, response.status_code

        devices: list[str] = []

        def first_visit() -> None:
            response = client.post("/consent/web/choice", body, content_type="application/json")
            assert response.status_code == 200, response.status_code
            devices.append(response.json()["device_id"])

        def return_visit() -> None:
            device, allowed = devices[return_visit.n % len(devices)], return_visit.n % 2 == 0
            return_visit.n += 1
            response = client.post(
                "/consent/web/choice",
                json.dumps({"device_id": device, "banner_sha256": banner,
                            "choices": {"analytics": not allowed, "advertising": allowed, "widgets": False}}),
                content_type="application/json",
            )  # fmt: skip
            assert response.status_code == 200, response.status_code

        return_visit.n = 0
        if args.return_visits:
            for _ in range(500):
                first_visit()
            choice = return_visit  # noqa: F811 - the profiled call

        def bare() -> None:
            assert client.post("/bench/bare", "{}", content_type="application/json").status_code == 204

        for _ in range(50):  # warm-up: connections, per-process caches
            choice()
            bare()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        choice_ms, choice_pg = cpu_ms_per_call(choice, args.requests, backend)
        bare_ms, _ = cpu_ms_per_call(bare, args.requests, backend)
        print(f"web consent profile: in-process (Django test client), DEBUG off, Redis cache, best of 3 x "
              f"{args.requests}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        kind = "return-visit" if args.return_visits else "first-visit"
        print(f"{kind} choice: {choice_ms:.3f} ms CPU per choice (this process), "
              f"{choice_pg:.3f} ms PostgreSQL backend CPU")  # fmt: skip
        print(f"bare 204:           {bare_ms:.3f} ms CPU per request")
        if args.cprofile:
            profile = cProfile.Profile()
            profile.runcall(lambda: [choice() for _ in range(args.requests)])
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(80)
        if args.sample:
            sampled(choice, args.requests)
        connection.close()


if __name__ == "__main__":
    main()
