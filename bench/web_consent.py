"""Benchmark: website consent choices through gunicorn (2 workers) vs a bare Django view answering 204.

    DEBUG=1 DATABASE_URL=postgres://... .venv/bin/python bench/web_consent.py [--seconds 15] [--clients 8]
        [--keepdb]

A throw-away database (`bench_<name>`) is created and migrated, gunicorn serves the project with 2 sync
workers on 127.0.0.1, and a load generator on loopback (Python threads, one keep-alive connection each)
posts choices to /consent/web/choice the way consent.js does: a first visit (no device id yet, so a new
device and its pseudonymous subject are created) choosing analytics on, advertising and widgets off,
with the banner hash from /consent/web/config, an allowed Origin, region DE. Every choice is three
ledger events with sealed evidence, three WebChoice rows, the state fold and an audit event. The same
client then hits a bare Django view answering 204 (same middleware). Prints the figures and goal lines.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

ORIGIN = "https://www.example.com"
PORT = int(os.environ.get("BENCH_PORT", "8931"))


def _wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def _load(method: str, path: str, body: bytes | None, headers: dict, seconds: float, clients: int) -> dict:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine = latencies[i]
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                errors[i] += 1
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                continue
            if response.status not in (200, 204):
                errors[i] += 1
                continue
            mine.append((time.perf_counter() - start) * 1000)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    flat = sorted(x for part in latencies for x in part)
    return {
        "requests": len(flat),
        "errors": sum(errors),
        "rate": len(flat) / elapsed,
        "p50": statistics.median(flat) if flat else float("nan"),
        "p95": flat[int(len(flat) * 0.95) - 1] if flat else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15, help="seconds per measurement (default 15)")
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent keep-alive connections (default 8)"
    )
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/web_consent.py needs PostgreSQL (DATABASE_URL=postgres://...)")

    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = f"bench_{db['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    bench_db = connection.settings_dict["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{bench_db}"
    connection.close()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "web_consent_site",
        "CONN_MAX_AGE": "600",
        "CONSENT_WEB_ALLOWED_ORIGINS": ORIGIN,
        "CONSENT_WEB_RATE_LIMIT": "100000000/60",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--pythonpath",
            f"{ROOT},{ROOT / 'bench'}",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
            "privacyops.wsgi:application",
        ],  # fmt: skip
        env=env,
        cwd=ROOT,
    )
    try:
        _wait_for(PORT)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        conn.request("GET", "/consent/web/config", headers={"Origin": ORIGIN, "CF-IPCountry": "DE"})
        banner = json.loads(conn.getresponse().read())["banner"]["sha256"]
        choice = json.dumps(
            {"choices": {"analytics": True, "advertising": False, "widgets": False}, "banner_sha256": banner}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Origin": ORIGIN,
            "CF-IPCountry": "DE",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) bench/web_consent",
        }
        _load(
            "POST", "/consent/web/choice", choice, headers, 3, args.clients
        )  # warm-up (connections, caches)
        choices = _load("POST", "/consent/web/choice", choice, headers, args.seconds, args.clients)
        _load("POST", "/bench/bare", b"{}", headers, 2, args.clients)
        bare = _load("POST", "/bench/bare", b"{}", headers, args.seconds, args.clients)

        from consent.models import ConsentEvent, WebChoice, WebDevice

        connection.settings_dict["NAME"] = bench_db
        events, devices, rows = (
            ConsentEvent.objects.count(),
            WebDevice.objects.count(),
            WebChoice.objects.count(),
        )
        connection.close()
        ratio = choices["rate"] / bare["rate"]
        print(f"web consent bench: gunicorn 2 workers, {args.clients} keep-alive clients on loopback, "
              f"{args.seconds:.0f} s per run, {os.cpu_count()} CPUs")  # fmt: skip
        print(f"choices  {choices['requests']:,} ok, {choices['errors']} errors: {choices['rate']:,.0f} choices/s, "
              f"p50 {choices['p50']:.1f} ms, p95 {choices['p95']:.1f} ms")  # fmt: skip
        print(f"bare 204 {bare['requests']:,} ok, {bare['errors']} errors: {bare['rate']:,.0f} requests/s, "
              f"p50 {bare['p50']:.1f} ms, p95 {bare['p95']:.1f} ms")  # fmt: skip
        print(f"recorded {devices:,} devices, {events:,} ledger events, {rows:,} web choice rows")
        print(f"goal choices_per_second: {choices['rate']:.0f} (target >= 500): "
              f"{'met' if choices['rate'] >= 500 else 'missed'}")  # fmt: skip
        print(
            f"goal p95_latency_ms: {choices['p95']:.1f} (target < 50): {'met' if choices['p95'] < 50 else 'missed'}"
        )
        print(f"goal ratio_to_bare_204: {ratio:.2f} (target >= 0.3): {'met' if ratio >= 0.3 else 'missed'}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        connection.settings_dict["NAME"] = bench_db
        connection.close()
        if not args.keepdb:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
