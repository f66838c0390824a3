"""Reads of the consent state and ledger. The hot path (`consent_is_current`) is one indexed query."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
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


def consent_status_at(*, subject_id: int, purpose: str, at: datetime) -> bool:
    """Was a current grant in force at time `at`? The fold of the ledger up to `at` (for audits)."""
    last = (
        ConsentEvent.objects.filter(subject_id=subject_id, purpose__code=purpose, at__lte=at)
        .order_by("-at", "-id")
        .select_related("purpose")
        .first()
    )
    if last is None or last.action != Action.GRANT:
        return False
    lifetime = last.purpose.consent_lifetime_days
    return lifetime is None or last.at + timedelta(days=lifetime) > at


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
