"""The sweep's dry run: exactly what `sweep_execute` would erase at `as_of`, minors included. Writes nothing.

A sweep works in two passes: the schedules' expired records first, then each minor's remaining records
(policy §9, erased like a DSAR erasure). Counting only the first pass under-reports (the issue-14
incident: 316 forecast, 574 erased). Here the minors' pass is counted after the schedules' pass: a
minor's record a schedule deletes, or anonymises with the same strategies, is not counted twice; one a
schedule only partly erases is counted again, as the sweep erases it again. The property test
(tests/retention/test_dry_run.py) holds dry-run count == erased count on generated data.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.registry import PersonalData

from .erasure import Plan, erasure_order, pending_q, plan_for
from .expiry import expired_q
from .hooks import sweep_protected_subject_ids
from .models import RetentionSchedule
from .selectors import (
    Forecast,
    Target,
    forecast,
    hold_covering,
    holds_for_category,
    holds_for_subject,
    minors_to_erase,
    schedule_targets,
)


@dataclass(frozen=True)
class MinorForecast:
    """One minor a sweep would erase: records erased, or kept because an access case is open."""

    subject_id: int
    would_erase: int
    open_request: int


@dataclass(frozen=True)
class DryRun:
    as_of: datetime
    rows: list[Forecast]
    minors: list[MinorForecast]

    @property
    def records_would_erase(self) -> int:
        return sum(r.would_erase for r in self.rows)

    @property
    def minors_would_erase(self) -> int:
        return sum(m.would_erase for m in self.minors)

    @property
    def would_erase(self) -> int:
        """The figure the sweep's `erased_count` will show."""
        return self.records_would_erase + self.minors_would_erase

    @property
    def held(self) -> int:
        return sum(r.held for r in self.rows)

    @property
    def open_request(self) -> int:
        return sum(r.open_request for r in self.rows) + sum(m.open_request for m in self.minors)


def subject_pending_count(*, subject_id: int, at: datetime | None = None) -> int:
    """Records `erase_subject` would erase now (not held, not ledgers, still holding something)."""
    holds = list(holds_for_subject(subject_id=subject_id, at=at or timezone.now()))
    total = 0
    for entry in erasure_order():
        if entry.append_only or hold_covering(holds, subject_id=subject_id, category=entry.category):
            continue
        total += entry.for_subject(subject_id).filter(pending_q(entry.model, plan_for(entry))).count()
    return total


def _minor_count(subject_id: int, targets: list[Target], as_of: datetime) -> int:
    holds = list(holds_for_subject(subject_id=subject_id, at=as_of))
    total = 0
    for entry in erasure_order():
        if entry.append_only or hold_covering(holds, subject_id=subject_id, category=entry.category):
            continue
        total += _entry_count_after_schedules(entry, subject_id, targets, as_of)
    return total


def _entry_count_after_schedules(
    entry: PersonalData, subject_id: int, targets: list[Target], as_of: datetime
) -> int:
    plan = plan_for(entry)
    base = entry.for_subject(subject_id)
    swept: list[tuple[Q, Plan]] = []
    for target in targets:
        if target.entry.label != entry.label:
            continue
        holds = holds_for_category(category=target.schedule.category.code, at=as_of)
        if holds.category_wide is not None or subject_id in holds.by_subject:
            continue
        schedule_plan = plan_for(entry, target.schedule.action)
        q = target.scope_q() & expired_q(target.anchor_field, target.schedule.period, as_of)
        swept.append((q & pending_q(entry.model, schedule_plan), schedule_plan))
    untouched = base.filter(pending_q(entry.model, plan))
    for q, _ in swept:
        untouched = untouched.exclude(q)
    total = untouched.count()
    for q, schedule_plan in swept:
        total += _again(entry.model, base.filter(q), plan, schedule_plan)
    return total


def _again(model: type[models.Model], swept: models.QuerySet, plan: Plan, schedule_plan: Plan) -> int:
    """Records the schedule pass erased that the minor's erasure erases again (a partial schedule plan)."""
    if schedule_plan.deletes:
        return 0
    if plan.deletes:
        return swept.count()
    left = {n: s for n, s in plan.strategies.items() if schedule_plan.strategies.get(n) != s}
    if not left:
        return 0
    return swept.filter(pending_q(model, Plan(plan.method, left))).count()


def sweep_dry_run(
    *,
    as_of: datetime | None = None,
    schedules: list[RetentionSchedule] | None = None,
    include_minors: bool = True,
) -> DryRun:
    """What a sweep at `as_of` (all active schedules, or `schedules`) would erase: records and minors."""
    as_of = as_of or timezone.now()
    rows = forecast(as_of=as_of, schedules=schedules)
    minors: list[MinorForecast] = []
    if include_minors:
        targets = schedule_targets(schedules)
        protected = sweep_protected_subject_ids()
        for subject_id in minors_to_erase().values_list("pk", flat=True):
            if subject_id in protected:
                kept = subject_pending_count(subject_id=subject_id, at=as_of)
                minors.append(MinorForecast(subject_id, 0, kept))
            else:
                minors.append(MinorForecast(subject_id, _minor_count(subject_id, targets, as_of), 0))
    return DryRun(as_of=as_of, rows=rows, minors=minors)
