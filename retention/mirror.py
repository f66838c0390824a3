"""A copy of the erasure journal outside the database, so a restore can't take the journal back too.

`manage.py restore` replaces the whole database, the journal table included: erasures made after the
backup would vanish from the journal with everything else. With `RETENTION_JOURNAL_MIRROR` set to a
directory (on storage that is not restored with the database), every journal entry is also appended
there as one JSON line once its transaction commits, and `replay_erasures` reads the mirror as well as
the table. Lines hold ids, labels and methods only, never personal data.

A crash between the commit and the append loses that line from the mirror only (the table has it);
the sweep re-erases expired records by itself, so what matters most, subject erasures and key
destructions, is also cheap to re-mirror: `replay_erasures --sync-mirror` appends what is missing.
"""

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils.dateparse import parse_datetime

from . import conf


def mirror_dir() -> Path | None:
    """The mirror's directory, or None when no mirror is configured (see conf.journal_mirror_dir)."""
    return conf.journal_mirror_dir()


def entry(*, at: datetime, model_label: str, method: str, record_pks: list[int], subject_id: int | None,
          certificate_ref, sweep_run_id: int | None) -> dict:  # fmt: skip
    return {
        "at": at.isoformat(),
        "model_label": model_label,
        "method": method,
        "record_pks": [int(pk) for pk in record_pks],
        "subject_id": subject_id,
        "certificate_ref": str(certificate_ref) if certificate_ref else "",
        "sweep_run_id": sweep_run_id,
    }


def record(line: dict) -> None:
    """Append a journal entry to the mirror after the current transaction commits (never for a rollback)."""
    directory = mirror_dir()
    if directory is None:
        return
    transaction.on_commit(lambda: _append(directory, [line]))


def _append(directory: Path, lines: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    day = lines[0]["at"][:10]
    path = directory / f"erasures-{day}.jsonl"
    payload = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def read(*, since: datetime) -> Iterator[dict]:
    """Mirrored entries at or after `since`, oldest file first."""
    directory = mirror_dir()
    if directory is None or not directory.exists():
        return
    for path in sorted(directory.glob("erasures-*.jsonl")):
        if path.stem.removeprefix("erasures-") < since.date().isoformat():
            continue
        with open(path, encoding="utf-8") as handle:
            for raw in handle:
                raw = raw.strip()
                if not raw:
                    continue
                line = json.loads(raw)
                at = parse_datetime(line["at"])
                if at is not None and at >= since:
                    yield {**line, "at": at}


def key(line: dict) -> tuple:
    """What identifies an erasure across the table and the mirror (ids are not reused across restores)."""
    return (line["model_label"], line["method"], tuple(sorted(line["record_pks"])))


def sync(*, since: datetime, rows: Iterator[dict]) -> int:
    """Append to the mirror the table's entries it lacks (e.g. after a crash between commit and append)."""
    directory = mirror_dir()
    if directory is None:
        return 0
    known = {key(line) for line in read(since=since)}
    missing = [line for line in rows if key(line) not in known]
    for line in missing:
        _append(directory, [entry(**line)])
    return len(missing)
