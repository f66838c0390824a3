"""Reads for retention: which holds apply, which records a schedule covers and has expired, forecasts.

Every record lookup goes through the personal-data registry; no model is named here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from core import batched, clock
from inventory.models import DataSubject
from inventory.registry import PersonalData, registry

from .erasure import pending_q, plan_for
from .expiry import expired_q
from .hooks import sweep_protected_subject_ids
from .models import Action, ErasureCertificate, LegalHold, RetentionSchedule, SweepRun

# --- legal holds ------------------------------------------------------------------------------------


def active_holds(*, at: datetime | None = None) -> models.QuerySet[LegalHold]:
    """Holds in force at `at`: not released, and `ends_on` not passed.

    `ends_on` is inclusive and read in the business's time zone (core.clock), like every date an officer
    enters: a hold ending on 3 December still applies at 17:00 Pacific that day, when UTC is already on
    the 4th. Reading it in UTC would lift holds up to a day early, and erase what is still held.
    """
    at = at or timezone.now()
    return LegalHold.objects.filter(released_at__isnull=True).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=clock.business_date(at))
    )


def holds_for_subject(*, subject_id: int, at: datetime | None = None) -> models.QuerySet[LegalHold]:
    """Active holds covering any record of the subject: on the subject itself, or on a whole category."""
    return (
        active_holds(at=at)
        .filter(Q(subject_id=subject_id) | Q(subject__isnull=True))
        .select_related("category")
        .order_by("placed_at", "id")
    )


@dataclass(frozen=True)
class HoldsForCategory:
    """The holds that bear on one category: a category-wide one, and per-subject ones (subject -> hold)."""

    category_wide: LegalHold | None
    by_subject: dict[int, LegalHold]


def holds_for_category(*, category: str, at: datetime | None = None) -> HoldsForCategory:
    wide = None
    by_subject: dict[int, LegalHold] = {}
    holds = (
        active_holds(at=at)
        .filter(Q(category__code=category) | Q(category__isnull=True))
        .select_related("category")
        .order_by("placed_at", "id")
    )
    for hold in holds:
        if hold.subject_id is None:
            wide = wide or hold
        else:
            by_subject.setdefault(hold.subject_id, hold)
    return HoldsForCategory(wide, by_subject)


def hold_covering(holds: Iterable[LegalHold], *, subject_id: int, category: str) -> LegalHold | None:
    """The first of `holds` that covers a subject's records of one category."""
    for hold in holds:
        if hold.subject_id not in (None, subject_id):
            continue
        if hold.category_id is None or hold.category.code == category:
            return hold
    return None


# --- schedules --------------------------------------------------------------------------------------


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


_ACTIVE_SCHEDULES = batched.Statement(
    lambda: RetentionSchedule.objects.filter(active=True).select_related("category", "system")
)


def active_schedules_query() -> batched.Bound[RetentionSchedule]:
    """The active schedules with the category and system their str() reads, as one statement of a
    batch (core.batched.fetch): the access package reads them with its other reference rows."""
    return _ACTIVE_SCHEDULES.bind()


def schedule_entries(schedule: RetentionSchedule) -> list[PersonalData]:
    """Registered models a schedule applies to: its category (and model), with the anchor and scope fields.

    Append-only ledgers are never written by a sweep: they are erased with their subject's key.
    """
    if schedule.external_collection:  # another system's collection: no record of ours
        return []
    found = []
    for entry in registry.for_category(schedule.category.code):
        if entry.append_only:
            continue
        if schedule.model_label and entry.label.lower() != schedule.model_label.lower():
            continue
        if schedule.anchor not in entry.timestamp_fields:
            continue
        if schedule.system_id and not _has_field(entry.model, "system"):
            continue
        if schedule.source_id and not _has_field(entry.model, "source"):
            continue
        found.append(entry)
    return found


@dataclass(frozen=True)
class Target:
    """One (schedule, registered model) pair a sweep works through, with what more specific schedules take."""

    schedule: RetentionSchedule
    entry: PersonalData
    excluded: tuple[Q, ...] = field(default_factory=tuple)

    @property
    def anchor_field(self) -> str:
        return self.entry.timestamp_fields[self.schedule.anchor]

    def scope_q(self) -> Q:
        q = Q()
        if self.schedule.system_id:
            q &= Q(system_id=self.schedule.system_id)
        if self.schedule.source_id:
            q &= Q(source_id=self.schedule.source_id)
        for other in self.excluded:
            q &= ~other
        return q

    def expired(self, *, as_of: datetime) -> models.QuerySet:
        """Records of this target expired at `as_of` that still hold something to erase (holds ignored)."""
        plan = plan_for(self.entry, self.schedule.action)
        return (
            self.entry.all()
            .filter(self.scope_q())
            .filter(expired_q(self.anchor_field, self.schedule.period, as_of))
            .filter(pending_q(self.entry.model, plan))
        )


def schedule_targets(
    schedules: Iterable[RetentionSchedule] | None = None,
    *,
    candidate: RetentionSchedule | None = None,
    active: list[RetentionSchedule] | None = None,
) -> list[Target]:
    """(schedule, model) pairs to sweep. When several active schedules match a record, the most specific
    wins: a schedule leaves out the records of any schedule whose scope strictly contains its own.

    `candidate` (an unsaved or edited schedule) replaces its stored version, for previews. `active`: the
    active schedules, when the caller has just read them (a sweep's planning), to spare a second query.
    """
    if active is None:
        active = list(
            RetentionSchedule.objects.filter(active=True)
            .select_related("category", "system", "source")
            .order_by("id")
        )
    active = list(active)
    if candidate is not None:
        active = [s for s in active if s.pk != candidate.pk]
        if candidate.active:
            active.append(candidate)
    wanted = active if schedules is None else list(schedules)
    if candidate is not None and schedules is not None:
        wanted = [candidate if s.pk == candidate.pk else s for s in wanted]
    targets = []
    for schedule in wanted:
        mine = schedule.scope
        for entry in schedule_entries(schedule):
            excluded: list[Q] = []
            superseded = False
            for other in active:
                if other is schedule or other.pk == schedule.pk and other.pk is not None:
                    continue
                if other.category_id != schedule.category_id or entry not in schedule_entries(other):
                    continue
                theirs = other.scope
                if len(theirs) <= len(mine) or any(theirs.get(k) != v for k, v in mine.items()):
                    continue  # not strictly more specific
                extra = {k: v for k, v in theirs.items() if k not in mine and k != "model_label"}
                if not extra:
                    superseded = True  # the other schedule covers every record of this model in scope
                    break
                excluded.append(Q(**extra))
            if not superseded:
                targets.append(Target(schedule, entry, tuple(excluded)))
    return targets


@dataclass(frozen=True)
class Forecast:
    """What a sweep at `as_of` would do for one target: records it would erase, and records held back."""

    schedule_id: int | None
    model_label: str
    category: str
    action: str
    would_erase: int
    held: int
    open_request: int = 0  # kept: the subject has an open access/portability case (retention.hooks)
    error: str = ""  # an external system that could not be counted (error class and message)


def forecast(
    *,
    as_of: datetime | None = None,
    schedules: Iterable[RetentionSchedule] | None = None,
    candidate: RetentionSchedule | None = None,
) -> list[Forecast]:
    """A dry run: count what a sweep now would erase, keep under hold, and keep for an open request.
    Writes nothing. Minors are counted by `retention.dry_run.sweep_dry_run`, which adds them."""
    as_of = as_of or timezone.now()
    protected = sweep_protected_subject_ids()
    results = []
    cache: dict[str, HoldsForCategory] = {}
    for target in schedule_targets(schedules, candidate=candidate):
        code = target.schedule.category.code
        holds = cache.setdefault(code, holds_for_category(category=code, at=as_of))
        expired = target.expired(as_of=as_of)
        total = expired.count()
        if holds.category_wide is not None:
            held = total
        elif holds.by_subject:
            held = expired.filter(**{f"{target.entry.subject_lookup}__in": list(holds.by_subject)}).count()
        else:
            held = 0
        open_request = 0
        if protected and holds.category_wide is None:
            lookup = f"{target.entry.subject_lookup}__in"
            open_request = (
                expired.exclude(**{lookup: list(holds.by_subject)}).filter(**{lookup: protected}).count()
            )
        results.append(
            Forecast(
                schedule_id=target.schedule.pk,
                model_label=target.entry.label,
                category=code,
                action=target.schedule.action,
                would_erase=total - held - open_request,
                held=held,
                open_request=open_request,
            )
        )
    results.extend(external_forecasts(schedules, candidate=candidate, as_of=as_of))
    return results


# --- retention across systems (schedules that target another system's collection) --------------------


def external_schedules(
    schedules: Iterable[RetentionSchedule] | None = None, *, candidate: RetentionSchedule | None = None
) -> list[RetentionSchedule]:
    if schedules is None:
        found = list(
            RetentionSchedule.objects.filter(active=True)
            .exclude(external_collection="")
            .select_related("category", "system")
            .order_by("id")
        )
        if candidate is not None:
            found = [s for s in found if s.pk != candidate.pk] + ([candidate] if candidate.active else [])
    else:
        found = list(schedules)
    return [s for s in found if s.external_collection and s.active]


def external_held(*, category: str, at: datetime) -> tuple[LegalHold | None, dict[str, set[str]]]:
    """The holds bearing on an external sweep: a category-wide one (nothing is erased), or the held
    subjects' identities (their rows are kept), plus subjects with an open access/portability case."""
    holds = holds_for_category(category=category, at=at)
    if holds.category_wide is not None:
        return holds.category_wide, {}
    ids = set(holds.by_subject) | set(sweep_protected_subject_ids())
    identities: dict[str, set[str]] = {"email": set(), "phone_number": set()}
    for email, phone in DataSubject.objects.filter(pk__in=ids).values_list("email_normalized", "phone"):
        if email:
            identities["email"].add(email)
        if phone:
            identities["phone_number"].add(phone)
    return None, identities


def external_cutoff(schedule: RetentionSchedule, as_of: datetime) -> datetime:
    """Rows whose timestamp is before this instant have expired (anchor + months + days <= as_of)."""
    return schedule.period.lower_bound(as_of)


def external_forecasts(
    schedules: Iterable[RetentionSchedule] | None = None,
    *,
    candidate: RetentionSchedule | None = None,
    as_of: datetime,
) -> list[Forecast]:
    """Dry-run rows for external schedules: rows the connectors engine would erase, and keep under holds."""
    from connectors.connector import NotConnected
    from connectors.selectors import external_retention_forecast

    rows = []
    for schedule in external_schedules(schedules, candidate=candidate):
        label = f"{schedule.system.code}:{schedule.external_collection}"
        wide, held = external_held(category=schedule.category.code, at=as_of)
        error = ""
        try:
            counts, kept = external_retention_forecast(
                system=schedule.system, collection=schedule.external_collection,
                timestamp_field=schedule.external_timestamp_field, before=external_cutoff(schedule, as_of),
                held_identities=held,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 (an unreachable system is shown, not a crashed page)
            # The class only, but for our own refusals: driver messages may quote row values.
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else ""
            text = str(exc) if isinstance(exc, NotConnected) else text
            counts, kept, error = {}, 0, f"{type(exc).__name__}: {text}"[:200].rstrip(": ")
        would = sum(counts.values())
        if wide is not None:
            would, kept = 0, would + kept
        rows.append(
            Forecast(schedule.pk, label, schedule.category.code, schedule.action, would, kept, 0, error)
        )
    return rows


def schedule_forecast(schedule: RetentionSchedule, *, as_of: datetime | None = None) -> list[Forecast]:
    """What this schedule (saved or as edited in a form) would erase now, given the other schedules."""
    return forecast(as_of=as_of, schedules=[schedule], candidate=schedule)


# --- minors -----------------------------------------------------------------------------------------


def minors_to_erase() -> models.QuerySet[DataSubject]:
    """Minors (policy §9) not yet erased, or whose last erasure kept records under a hold (re-checked)."""
    last_kept = Subquery(
        ErasureCertificate.objects.filter(subject=OuterRef("pk"), kind=ErasureCertificate.Kind.SUBJECT)
        .order_by("-issued_at", "-id")
        .values("kept_count")[:1]
    )
    return (
        DataSubject.objects.filter(is_minor=True)
        .annotate(last_kept=last_kept)
        .filter(Q(erased_at__isnull=True) | Q(last_kept__gt=0))
        .order_by("pk")
    )


# --- runs -------------------------------------------------------------------------------------------


def unfinished_run() -> SweepRun | None:
    return SweepRun.objects.filter(status=SweepRun.Status.RUNNING).order_by("started_at", "id").first()


def last_runs(*, limit: int = 10) -> models.QuerySet[SweepRun]:
    return SweepRun.objects.select_related("certificate").order_by("-started_at", "-id")[:limit]


def actions_allowed(entry: PersonalData) -> list[str]:
    """Schedule actions a registered model supports (for validation and the admin)."""
    allowed = []
    if entry.subject:  # the subject's own row is never deleted, only anonymised
        allowed.append(Action.DELETE)
    if not entry.deletes_rows:
        allowed.append(Action.ANONYMISE)
    if entry.encrypted_fields:
        allowed.append(Action.CRYPTO_SHRED)
    return allowed
