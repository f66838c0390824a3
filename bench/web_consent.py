"""Benchmark: website consent choices through gunicorn (2 workers) vs a bare Django view answering 204.

    DATABASE_URL=postgres://... .venv/bin/python bench/web_consent.py [--seconds 15] [--clients 16]
        [--threads 4] [--repeat 1] [--keepdb]

A throw-away database (`bench_<name>`) is created and migrated, and gunicorn serves the project the way
production runs it: DEBUG off (the bench sets throw-away SECRET_KEY, DATA_MASTER_KEYS and HASH_KEY of
its own), 2 workers of the gthread class (HTTP keep-alive; threads overlap database waits), a Redis
cache (CACHE_URL, else redis://127.0.0.1:6379/5) for the rate limiter and the shared epochs, behind a
TLS proxy (X-Forwarded-Proto: https). The load generator on loopback is an asyncio client with one
keep-alive connection per simulated client and the requests prebuilt as bytes, so it costs far less
CPU per request than the server (its ceiling shows as the bare view's rate, printed too).

It posts choices to /consent/web/choice the way consent.js does: first visits (no device id, so a
device and its pseudonymous subject are created) choosing analytics on, advertising and widgets off,
with the banner hash from /consent/web/config, an allowed Origin, region DE; then return visits of
those devices changing their minds. Every choice is three ledger events with sealed evidence, three
WebChoice rows, the state fold and audit events. The same client then hits a bare Django view answering
204 through the whole middleware stack (the consent endpoints, marked @public_endpoint, skip its session,
auth, CSRF and messages parts: core.public_endpoints). With --repeat, the measurements alternate and the best run counts.
Each line also gives the CPU time per request of the gunicorn workers and of the PostgreSQL backends
serving the bench database (from /proc), which the shared machine's load moves less than the rates.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

import django  # noqa: E402

django.setup()

from benchdb import throwaway_database  # noqa: E402
from django.db import connection  # noqa: E402
from web_consent_env import ORIGIN, production_settings  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8931"))
HOST = "127.0.0.1"
COMMON = {
    "Host": f"{HOST}:{PORT}",
    "Origin": ORIGIN,
    "CF-IPCountry": "DE",
    "X-Forwarded-Proto": "https",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) bench/web_consent",
}


def request_bytes(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in {**COMMON, **headers}.items()]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader, writer, raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length) if length else b""


async def _load(requests: list[bytes], seconds: float, clients: int) -> dict:
    """Each client sends its share of `requests` in turn (cycling) for `seconds`; 200/204 count as done."""
    latencies: list[float] = []
    errors = 0
    bodies: list[bytes] = []
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, PORT)
        n = i
        while time.monotonic() < stop:
            raw = requests[n % len(requests)]
            n += clients
            start = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, raw)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, PORT)
                continue
            if status not in (200, 204):
                errors += 1
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            if len(bodies) < 100_000 and body:
                bodies.append(body)
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    flat = sorted(latencies)
    return {
        "requests": len(flat),
        "errors": errors,
        "rate": len(flat) / elapsed,
        "p50": flat[len(flat) // 2] if flat else float("nan"),
        "p95": flat[max(0, int(len(flat) * 0.95) - 1)] if flat else float("nan"),
        "bodies": bodies,
    }


def load(requests: list[bytes], seconds: float, clients: int, server: "Server | None" = None) -> dict:
    """`_load`, with the CPU time per request of the server's processes when `server` is given."""
    before = server.cpu() if server else None
    result = asyncio.run(_load(requests, seconds, clients))
    if server and before and result["requests"]:
        after = server.cpu()
        result["cpu_ms"] = tuple(
            (a - b) * 1000 / result["requests"] for a, b in zip(after, before, strict=True)
        )
    return result


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process on this machine, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """gunicorn and the PostgreSQL backends serving it, for their CPU time (the machine is shared: the
    CPU the server spends per request moves less with other load than its rate does)."""

    def __init__(self, process: subprocess.Popen, bench_db: str):
        self.process, self.bench_db = process, bench_db

    def _workers(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def _backends(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.bench_db],
            )
            return [pid for (pid,) in cursor.fetchall()]

    def cpu(self) -> tuple[float, float]:
        """(gunicorn workers, PostgreSQL backends of the bench database) CPU seconds so far."""
        return sum(map(_cpu_seconds, self._workers())), sum(map(_cpu_seconds, self._backends()))


def _wait_for(timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    raw = request_bytes("GET", "/healthz")
    while time.monotonic() < deadline:
        try:
            status, _ = asyncio.run(_one(raw))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


async def _one(raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(HOST, PORT)
    try:
        return await _exchange(reader, writer, raw)
    finally:
        writer.close()


def _server_env(bench_db: str) -> dict:
    """Production settings (DEBUG off) with secrets drawn for this run only."""
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{bench_db}"
    return {**os.environ, **production_settings(allowed_hosts=f"{HOST},localhost"), "DATABASE_URL": url}


def _start_server(bench_db: str, threads: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--bind",
            f"{HOST}:{PORT}",
            "--pythonpath",
            f"{ROOT},{ROOT / 'bench'}",
            "--log-level",
            "warning",
            "--access-logfile",
            "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
            "privacyops.wsgi:application",
        ],  # fmt: skip
        env=_server_env(bench_db),
        cwd=ROOT,
    )


def _line(name: str, r: dict, unit: str) -> str:
    cpu = r.get("cpu_ms")
    return (
        f"{name:<14} {r['requests']:>7,} ok, {r['errors']} errors: {r['rate']:>6,.0f} {unit}/s, "
        f"p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms"
        + (f"; CPU per request: gunicorn {cpu[0]:.2f} ms, PostgreSQL {cpu[1]:.2f} ms" if cpu else "")
    )


def _measure(args, banner: str, server: Server) -> tuple[dict, dict, dict]:
    first = json.dumps(
        {"choices": {"analytics": True, "advertising": False, "widgets": False}, "banner_sha256": banner}
    ).encode()
    first_visit = [request_bytes("POST", "/consent/web/choice", first)]
    bare = [request_bytes("POST", "/bench/bare", b"{}")]
    load(first_visit, 3, args.clients)  # warm-up: connections, per-process caches
    load(bare, 1, args.clients)
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name, reqs in (("choices", first_visit), ("bare", bare)):
            result = load(reqs, args.seconds, args.clients, server)
            if name not in best or result["rate"] > best[name]["rate"]:
                best[name] = result
    devices = sorted({json.loads(b)["device_id"] for b in best["choices"]["bodies"]})[: 20 * args.clients]
    returning = [
        request_bytes(
            "POST",
            "/consent/web/choice",
            json.dumps(
                {
                    "device_id": d,
                    "choices": {"analytics": False, "advertising": True, "widgets": False},
                    "banner_sha256": banner,
                }
            ).encode(),
        )
        for d in devices
    ]
    again = load(returning, args.seconds, args.clients, server)
    return best["choices"], again, best["bare"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15, help="seconds per measurement (default 15)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (16)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="alternated runs; the best counts (default 1)")
    parser.add_argument("--keepdb", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/web_consent.py needs PostgreSQL (DATABASE_URL=postgres://...)")

    with throwaway_database(keepdb=args.keepdb):
        bench_db = connection.settings_dict["NAME"]
        connection.close()
        server = _start_server(bench_db, args.threads)
        try:
            _wait_for()
            status, body = asyncio.run(_one(request_bytes("GET", "/consent/web/config")))
            if status != 200:
                raise SystemExit(f"/consent/web/config answered {status}: {body[:200]!r}")
            choices, again, bare = _measure(
                args, json.loads(body)["banner"]["sha256"], Server(server, bench_db)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        _report(args, choices, again, bare)


def _report(args, choices: dict, again: dict, bare: dict) -> None:
    from consent.models import ConsentEvent, WebChoice, WebDevice

    counts = (WebDevice.objects.count(), ConsentEvent.objects.count(), WebChoice.objects.count())
    connection.close()
    ratio = choices["rate"] / bare["rate"]
    load1 = os.getloadavg()[0]
    print(f"web consent bench: gunicorn 2 gthread workers x {args.threads} threads, DEBUG off, Redis cache, "
          f"{args.clients} keep-alive clients (asyncio, loopback), {args.seconds:.0f} s per run, best of "
          f"{args.repeat}, {os.cpu_count()} CPUs, load average {load1:.2f}")  # fmt: skip
    print(_line("first visits", choices, "choices"))
    print(_line("return visits", again, "choices"))
    print(_line("bare 204", bare, "requests") + "  (the client's and the stack's ceiling)")
    print(f"recorded {counts[0]:,} devices, {counts[1]:,} ledger events, {counts[2]:,} web choice rows")
    print(f"goal choices_per_second: {choices['rate']:.0f} (target >= 500): "
          f"{'met' if choices['rate'] >= 500 else 'missed'}")  # fmt: skip
    print(
        f"goal p95_latency_ms: {choices['p95']:.1f} (target < 50): {'met' if choices['p95'] < 50 else 'missed'}"
    )
    print(f"goal ratio_to_bare_204: {ratio:.2f} (target >= 0.3): {'met' if ratio >= 0.3 else 'missed'}")


if __name__ == "__main__":
    main()
