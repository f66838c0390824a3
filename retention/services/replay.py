"""Replay after a restore: re-apply journaled erasures so erased data does not come back from a backup."""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataKey, DataSubject
from inventory.registry import Erase, PersonalData, registry
from inventory.services import subject_destroy_data_key

from .. import mirror
from ..erasure import Plan, erase_rows, pending_q
from ..models import ErasureJournal

# Record ids re-erased per statement (a journal row can list a whole sweep window).
REPLAY_CHUNK = 5000


def _replay_plan(entry: PersonalData, method: str) -> Plan | None:
    """The plan that re-applies a journaled method (None for methods that are not row erasures)."""
    if method == ErasureJournal.Method.DELETE:
        return Plan(method, {})
    if method == ErasureJournal.Method.ANONYMISE:
        return Plan(method, dict(entry.field_strategies))
    if method == ErasureJournal.Method.CRYPTO_SHRED:
        return Plan(method, dict.fromkeys(entry.encrypted_fields, Erase.SHRED))
    return None


def _journal_lines(since: datetime) -> Iterator[dict[str, Any]]:
    """The journal table's entries since `since`, oldest first, read in chunks."""
    last_id = 0
    fields = (
        "pk",
        "at",
        "model_label",
        "method",
        "record_pks",
        "subject_id",
        "certificate_ref",
        "sweep_run_id",
    )
    while True:
        rows = list(
            ErasureJournal.objects.filter(at__gte=since, pk__gt=last_id).order_by("pk").values(*fields)[:500]
        )
        if not rows:
            return
        for row in rows:
            last_id = row.pop("pk")
            yield row


def erasures_replay(
    *,
    since: datetime,
    actor: Actor = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Re-apply every erasure journaled since `since` (after a database restore): rows that came back are
    deleted or anonymised again, restored data keys destroyed again. Reads the journal table and, when
    configured, its mirror outside the database (which a restore does not roll back). One short
    transaction per entry. Returns counts per method of what was (with `dry_run`: would be) erased again.
    """
    counts = {m: 0 for m in ErasureJournal.Method.values} | {
        "unknown_model": 0,
        "journal_rows": 0,
        "mirrored": 0,
    }
    seen: set[tuple] = set()
    sources = ((False, _journal_lines(since)), (True, mirror.read(since=since)))
    for from_mirror, lines in sources:
        for line in lines:
            line_key = mirror.key(line)
            if line_key in seen:
                continue
            seen.add(line_key)
            counts["journal_rows"] += 1
            counts["mirrored"] += from_mirror
            with transaction.atomic():
                counts[line["method"]] += _replay_line(line, actor=actor, dry_run=dry_run, counts=counts)
            if progress is not None:
                progress(1)
    if not dry_run:
        audit_record(
            action="retention.erasures.replayed",
            actor=actor,
            details={"since": since, **{k: v for k, v in counts.items() if v}},
        )
    return counts


def erasure_mirror_sync(*, since: datetime) -> int:
    """Append to the journal's mirror the entries it lacks (run before taking a backup, or daily)."""
    return mirror.sync(since=since, rows=_journal_lines(since))


def _replay_line(line: dict[str, Any], *, actor: Actor, dry_run: bool, counts: dict[str, int]) -> int:
    """Re-apply one journal entry; returns how many records (or keys, or subjects) came back."""
    pks = list(line["record_pks"])
    method = line["method"]
    if method == ErasureJournal.Method.KEY_DESTROYED:
        restored = list(
            DataKey.objects.filter(subject_id__in=pks)
            .filter(Q(destroyed_at__isnull=True) | ~Q(wrapped=""))
            .values_list("subject_id", flat=True)
        )
        if not dry_run:
            for subject_id in restored:
                subject_destroy_data_key(subject_id=subject_id, actor=actor, reason="replay after restore")
                DataKey.objects.filter(subject_id=subject_id).exclude(wrapped="").update(wrapped="")
        return len(restored)
    if method == ErasureJournal.Method.SUBJECT_ERASED:
        back = DataSubject.objects.filter(pk__in=pks, erased_at__isnull=True)
        return back.count() if dry_run else back.update(erased_at=line["at"])
    try:
        entry = registry.by_label(line["model_label"])
    except KeyError:
        counts["unknown_model"] += 1
        return 0
    plan = _replay_plan(entry, method)
    if plan is None or entry.append_only:
        return 0
    total = 0
    for start in range(0, len(pks), REPLAY_CHUNK):
        queryset = entry.all().filter(pk__in=pks[start : start + REPLAY_CHUNK])
        if dry_run:
            total += queryset.filter(pending_q(entry.model, plan)).count()
        else:
            total += erase_rows(entry=entry, queryset=queryset, plan=plan, journal=None).count
    return total
