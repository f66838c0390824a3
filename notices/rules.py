"""Rules the notices app enforces, as data, each row cited to its source (docs/regulations.md, breaches).

Breach clocks, the California Attorney General sample threshold, and the outbox's delivery policy
(bounded retries with exponential backoff, the lease after which a "sending" notice is re-examined).
Delivery numbers may be tuned per deployment (notices.conf, NOTICES_* settings); the legal numbers may not.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from . import conf


@dataclass(frozen=True)
class BreachClock:
    code: str
    label: str
    period: timedelta
    starts_from: str  # Breach field the period counts from
    source: str
    consequence: str


EU_AUTHORITY = BreachClock(
    code="eu_authority",
    label="EU supervisory authority",
    period=timedelta(hours=72),
    starts_from="aware_at",
    source="GDPR Art. 33(1), 33(5)",
    consequence="notify the supervisory authority, or record the reasons for the delay",
)
CA_CONSUMERS = BreachClock(
    code="ca_consumers",
    label="California residents",
    period=timedelta(days=30),
    starts_from="discovered_at",
    source="Cal. Civ. Code §1798.82 as amended (in force 2026-01-01)",
    consequence="notify affected California residents (law-enforcement delay allowed)",
)
BREACH_CLOCKS = [EU_AUTHORITY, CA_CONSUMERS]

# More than 500 California residents notified: a sample copy (no personal information) goes to the
# Attorney General within 15 calendar days of notifying them. Cal. Civ. Code §1798.82(f) as amended.
CA_AG_SAMPLE_THRESHOLD = 500
CA_AG_SAMPLE_PERIOD = timedelta(days=15)
CA_COUNTRY, CA_REGION = "US", "CA"

# Awareness a few minutes "before" discovery is a typing artefact, not an inconsistency.
CLOCK_TOLERANCE = timedelta(minutes=5)


def clock_due(clock: BreachClock, breach, now: datetime | None = None) -> datetime:
    if clock.code == CA_CONSUMERS.code:
        return ca_consumers_due(breach, now)
    return getattr(breach, clock.starts_from) + clock.period


def ca_delay_paused(breach, now: datetime | None = None) -> timedelta:
    """How long a documented delay paused the California clock (law enforcement, or scope and integrity).

    From the delay's start (never before discovery) to its end, or to now while it lasts; nothing without
    a kind, a reason and a start date (Cal. Civ. Code §1798.82(a), (c) as amended by SB 446).
    """
    if not breach.ca_delay_kind or breach.ca_delay_from is None or not breach.ca_delay_reason.strip():
        return timedelta(0)
    start = max(breach.ca_delay_from, breach.discovered_at)
    end = breach.ca_delay_until or now or timezone.now()
    return max(timedelta(0), end - start)


def ca_consumers_due(breach, now: datetime | None = None) -> datetime:
    """30 days from discovery, plus the documented delay's pause."""
    return breach.discovered_at + CA_CONSUMERS.period + ca_delay_paused(breach, now)


def ag_sample_due(breach) -> datetime | None:
    """15 days from the first consumer notice; None until notifying starts."""
    if breach.notify_started_at is None:
        return None
    return breach.notify_started_at + CA_AG_SAMPLE_PERIOD


# --- Outbox delivery policy ---------------------------------------------------------------------
def max_attempts() -> int:
    """Delivery attempts before a notice is marked failed (the first try counts)."""
    return conf.max_attempts()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base, ... capped."""
    base = conf.retry_base_seconds()
    cap = conf.retry_max_seconds()
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def sending_lease() -> timedelta:
    """How long a claimed ("sending") notice may stay claimed before the sweep re-examines it.

    Must comfortably exceed the SMTP timeout plus the task's run time, or a slow but live delivery
    would be re-queued while still in flight.
    """
    return timedelta(seconds=conf.sending_lease_seconds())


def dispatch_grace() -> timedelta:
    """A pending notice whose task was queued this long ago and never ran counts as orphaned."""
    return timedelta(seconds=conf.dispatch_grace_seconds())


def smtp_timeout() -> int:
    return conf.smtp_timeout_seconds()
