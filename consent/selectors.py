"""Reads of the consent state and ledger. The hot path (`consent_is_current`) is one indexed query."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from inventory import crypto

from . import evidence as evidence_mod
from .models import (
    Action,
    ConsentEvent,
    ConsentState,
    Purpose,
    ReconsentRequest,
    SuppressedAddress,
)
from .suppression import subject_email_hmacs

_CHUNK = 5000


def _for_subjects(events: QuerySet[ConsentEvent], ids: list[int]) -> Iterator[QuerySet[ConsentEvent]]:
    """The events of these subjects, as one query on PostgreSQL (the ids as one array parameter) and in
    chunks elsewhere: `subject_id__in=[ids]` renders one placeholder per id, which costs more than the
    query itself at a disclosure batch's size (a million subjects)."""
    if connection.vendor == "postgresql":
        yield events.filter(subject_id__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
        return
    for start in range(0, len(ids), _CHUNK):
        yield events.filter(subject_id__in=ids[start : start + _CHUNK])


def _current_grant(at: datetime) -> Q:
    return Q(action=Action.GRANT) & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))


def consent_is_current(*, subject_id: int, purpose: str, at: datetime | None = None) -> bool:
    """May we process for this purpose? A current, unexpired grant, or a required purpose.

    One query: the purpose's unique code plus an EXISTS probe of the (subject, purpose) unique index.
    Written in SQL because the marketing gate calls it before every send (the ORM's query building
    costs more than the lookup itself). The state is the latest ledger entry; `at` only moves the
    expiry check (e.g. "still valid when the campaign goes out tomorrow?"). For "was consent given at
    time T?" use `consent_status_at`.
    """
    at = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(IS_CURRENT_SQL, [purpose, subject_id, connection.ops.adapt_datetimefield_value(at)])
        return cursor.fetchone() is not None


# The consent gate's one query (public so a test can EXPLAIN it: it must stay an index lookup).
IS_CURRENT_SQL = (
    f"SELECT 1 FROM {Purpose._meta.db_table} p WHERE p.code = %s AND (p.required OR EXISTS ("
    f"SELECT 1 FROM {ConsentState._meta.db_table} s WHERE s.subject_id = %s AND s.purpose_id = p.id "
    f"AND s.action = '{Action.GRANT.value}' AND (s.expires_at IS NULL OR s.expires_at > %s)))"
)


def subjects_without_consent(
    *, subject_ids: Iterable[int], purpose: str, at: datetime | None = None
) -> set[int]:
    """The given subjects that may NOT be processed for the purpose (no, withdrawn or expired consent)."""
    at = at or timezone.now()
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return set()
    found = Purpose.objects.filter(code=purpose).values("pk", "required").first()
    if found is None:
        return set(ids)
    if found["required"]:
        return set()
    granted: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        granted.update(
            ConsentState.objects.filter(subject_id__in=chunk, purpose_id=found["pk"])
            .filter(_current_grant(at))
            .values_list("subject_id", flat=True)
        )
    return set(ids) - granted


def subject_is_suppressed(*, subject_id: int, purpose: str) -> bool:
    """Is one of the subject's email addresses on the suppression list for this purpose?"""
    hashes = subject_email_hmacs([subject_id]).get(subject_id, set())
    return (
        bool(hashes)
        and SuppressedAddress.objects.filter(email_hmac__in=hashes, purpose__code=purpose).exists()
    )


def suppressed_hashes(*, hashes: Iterable[str], purposes: Iterable[str]) -> set[tuple[str, str]]:
    """(hash, purpose) pairs among the given ones that are suppressed (one query per 5,000 hashes)."""
    hashes = list(set(hashes))
    purposes = list(set(purposes))
    found: set[tuple[str, str]] = set()
    if not hashes or not purposes:
        return found
    for start in range(0, len(hashes), _CHUNK):
        found.update(
            SuppressedAddress.objects.filter(
                email_hmac__in=hashes[start : start + _CHUNK], purpose__code__in=purposes
            ).values_list("email_hmac", "purpose__code")
        )
    return found


@dataclass(frozen=True)
class PurposeStatus:
    """The current answer for one purpose, as shown to officers and returned by the API."""

    purpose: Purpose
    status: str  # granted | withdrawn | expired | none | required
    at: datetime | None = None
    expires_at: datetime | None = None
    event: ConsentEvent | None = None

    @property
    def may_process(self) -> bool:
        return self.status in ("granted", "required")


def consent_overview(*, subject_id: int) -> list[PurposeStatus]:
    """Every active purpose with the subject's current status (two queries)."""
    states = {
        s.purpose_id: s
        for s in ConsentState.objects.filter(subject_id=subject_id).select_related(
            "event", "event__policy_version"
        )
    }
    overview = []
    for purpose in Purpose.objects.filter(active=True).order_by("required", "name"):
        if purpose.required:
            overview.append(PurposeStatus(purpose=purpose, status="required"))
            continue
        state = states.get(purpose.pk)
        if state is None:
            overview.append(PurposeStatus(purpose=purpose, status="none"))
        else:
            overview.append(
                PurposeStatus(
                    purpose=purpose,
                    status=state.status,
                    at=state.at,
                    expires_at=state.expires_at,
                    event=state.event,
                )
            )
    return overview


def consent_history(*, subject_id: int) -> QuerySet[ConsentEvent]:
    """The subject's ledger, newest first (uses the (subject, purpose, at) index)."""
    return (
        ConsentEvent.objects.filter(subject_id=subject_id)
        .select_related("purpose", "policy_version", "import_batch")
        .order_by("-at", "-id")
    )


def _fold_rank(action: str, at: datetime, recorded_at: datetime, event_id: int) -> tuple[datetime, int]:
    """The fold's order (EventRow.rank_at): a withdrawal ranks at its receipt, a grant at its time."""
    return (recorded_at if action == Action.WITHDRAW else at, event_id)


def subjects_with_consent_at(*, subject_ids: Iterable[int], purpose: str, at: datetime) -> set[int]:
    """The given subjects whose consent for the purpose was in force at time `at` (bulk, for audits).

    The ledger's events dated up to `at` are folded as the live state is (a withdrawal overrides every
    grant received before it); a grant in force must not have expired by `at`. Used to judge a
    disclosure at the time it was made, not when it is logged (issue 14 item 3).
    """
    ids = list(dict.fromkeys(subject_ids))
    found = Purpose.objects.filter(code=purpose).values("pk", "required", "consent_lifetime_days").first()
    if found is None or not ids:
        return set()
    if found["required"]:
        return set(ids)
    latest: dict[int, tuple] = {}
    events = ConsentEvent.objects.filter(purpose_id=found["pk"], at__lte=at)
    for chunk in _for_subjects(events, ids):
        for sid, action, ev_at, recorded_at, pk in chunk.values_list(
            "subject_id", "action", "at", "recorded_at", "pk"
        ):
            rank = _fold_rank(action, ev_at, recorded_at, pk)
            if sid not in latest or rank > latest[sid][0]:
                latest[sid] = (rank, action, ev_at)
    lifetime = found["consent_lifetime_days"]
    return {
        sid
        for sid, (_rank, action, ev_at) in latest.items()
        if action == Action.GRANT and (lifetime is None or ev_at + timedelta(days=lifetime) > at)
    }


def subjects_opted_out_of_anything_by(*, subject_ids: Iterable[int], at: datetime) -> set[int]:
    """Subjects who, by time `at`, had withdrawn any purpose or whose address was on the suppression list.

    CAN-SPAM 15 U.S.C. §7704(a)(4)(A)(iv): once a person has opted out, their address may not be
    transferred to another party, with no grace period and whatever they consent to later.
    """
    ids = list(dict.fromkeys(subject_ids))
    found: set[int] = set()
    withdrawals = ConsentEvent.objects.filter(action=Action.WITHDRAW, at__lte=at)
    for chunk in _for_subjects(withdrawals, ids):
        found.update(chunk.values_list("subject_id", flat=True))
    rest = [sid for sid in ids if sid not in found]
    if rest and SuppressedAddress.objects.filter(created_at__lte=at).exists():
        by_subject = subject_email_hmacs(rest)
        listed = set(
            SuppressedAddress.objects.filter(
                email_hmac__in={h for hs in by_subject.values() for h in hs}, created_at__lte=at
            ).values_list("email_hmac", flat=True)
        )
        found.update(sid for sid, hashes in by_subject.items() if hashes & listed)
    return found


def consent_status_at(*, subject_id: int, purpose: str, at: datetime) -> bool:
    """Was a current grant in force at time `at`? The fold of the ledger up to `at` (for audits)."""
    return subject_id in subjects_with_consent_at(subject_ids=[subject_id], purpose=purpose, at=at)


def event_evidence(event: ConsentEvent) -> dict[str, str]:
    """Decrypt an event's sealed evidence. Raises inventory.crypto.KeyDestroyed after erasure."""
    if not event.evidence:
        return {}
    key = crypto.key_for_subject(event.subject_id)
    return evidence_mod.loads(crypto.open_field(key, event, "evidence"))


def expiring_consents(*, within: timedelta, at: datetime | None = None) -> QuerySet[ConsentState]:
    at = at or timezone.now()
    return ConsentState.objects.filter(action=Action.GRANT, expires_at__gt=at, expires_at__lte=at + within)


def opt_outs_since(*, since: datetime) -> int:
    return ConsentEvent.objects.filter(at__gte=since, action=Action.WITHDRAW).count()


def open_reconsent_requests() -> QuerySet[ReconsentRequest]:
    return ReconsentRequest.objects.filter(status=ReconsentRequest.Status.OPEN)
