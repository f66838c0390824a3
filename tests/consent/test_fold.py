"""ConsentState always equals the fold of the ledger: latest rank wins, ties broken by event id.

The rank is a grant's time and a withdrawal's receipt (issue 14 item 1: an opt-out overrides every grant
received before it); tests/consent/test_opt_out_precedence.py holds that property with skewed clocks.
"""

import datetime as dt
import random

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.models import ConsentEvent, ConsentState, Purpose
from consent.selectors import consent_is_current
from consent.services import COPY_THRESHOLD, ConsentEventInput, consent_events_record_bulk
from tests.factories import DataSubjectFactory

PURPOSES = ["marketing_email", "analytics_cookies"]  # without and with a consent lifetime


def expected_fold(subject_id: int) -> dict[str, tuple]:
    """The reference fold, computed from the ledger alone (independent of the service's upsert)."""
    codes = dict(Purpose.objects.values_list("pk", "code"))
    lifetimes = dict(Purpose.objects.values_list("code", "consent_lifetime_days"))
    best: dict[str, ConsentEvent] = {}

    def rank(event):
        return event.recorded_at if event.action == "withdraw" else event.at

    for event in ConsentEvent.objects.filter(subject_id=subject_id):
        current = best.get(codes[event.purpose_id])
        if current is None or (rank(event), event.pk) > (rank(current), current.pk):
            best[codes[event.purpose_id]] = event
    folded = {}
    for purpose, event in best.items():
        days = lifetimes[purpose]
        expires = event.at + dt.timedelta(days=days) if event.action == "grant" and days else None
        folded[purpose] = (event.action, rank(event), event.pk, expires)
    return folded


def actual_state(subject_id: int) -> dict[str, tuple]:
    return {
        s.purpose.code: (s.action, s.at, s.event_id, s.expires_at)
        for s in ConsentState.objects.filter(subject_id=subject_id).select_related("purpose")
    }


event_strategy = st.tuples(
    st.sampled_from(["grant", "withdraw"]),
    st.integers(min_value=0, max_value=30),  # minutes after the base time: a small range makes ties likely
    st.sampled_from(PURPOSES),
)


@pytest.mark.django_db
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(event_strategy, min_size=1, max_size=14), batch_size=st.integers(min_value=1, max_value=6)
)
def test_current_state_equals_the_fold_of_the_ledger_for_any_order_of_events(events, batch_size):
    subject = DataSubjectFactory()
    base = timezone.now() - dt.timedelta(days=400)
    inputs = [
        ConsentEventInput(
            subject_id=subject.pk,
            purpose=purpose,
            action=action,
            channel="api",
            at=base + dt.timedelta(minutes=minute),
        )
        for action, minute, purpose in events
    ]
    for start in range(0, len(inputs), batch_size):
        consent_events_record_bulk(events=inputs[start : start + batch_size], source="property-test")
        assert actual_state(subject.pk) == expected_fold(subject.pk)
    for purpose in PURPOSES:
        folded = expected_fold(subject.pk).get(purpose)
        current = bool(folded) and folded[0] == "grant" and (folded[3] is None or folded[3] > timezone.now())
        assert consent_is_current(subject_id=subject.pk, purpose=purpose) is current


@pytest.mark.django_db
def test_a_late_event_with_an_older_timestamp_does_not_override_the_newer_state():
    subject = DataSubjectFactory()
    now = timezone.now()
    newer = ConsentEventInput(
        subject_id=subject.pk, purpose="marketing_email", action="withdraw", channel="api", at=now
    )
    older = ConsentEventInput(
        subject_id=subject.pk,
        purpose="marketing_email",
        action="grant",
        channel="api",
        at=now - dt.timedelta(hours=1),
    )
    consent_events_record_bulk(events=[newer], source="t")
    consent_events_record_bulk(events=[older], source="t")
    assert ConsentState.objects.get(subject=subject).action == "withdraw"
    assert ConsentEvent.objects.filter(subject=subject).count() == 2  # both are evidence


@pytest.mark.django_db
def test_same_timestamp_is_broken_by_the_later_event_id():
    subject = DataSubjectFactory()
    at = timezone.now()
    items = [
        ConsentEventInput(subject_id=subject.pk, purpose="marketing_email", action=a, channel="api", at=at)
        for a in ("grant", "withdraw", "grant")
    ]
    # Received at the instant they carry: grant and withdrawal rank equal, so the later event id wins.
    with time_machine.travel(at, tick=False):
        consent_events_record_bulk(events=items, source="t")
    state = ConsentState.objects.get(subject=subject)
    assert state.action == "grant"
    assert state.event_id == ConsentEvent.objects.filter(subject=subject).order_by("-pk").first().pk


@pytest.mark.postgres
@pytest.mark.django_db
def test_big_batches_written_with_copy_fold_exactly_like_small_ones():
    rng = random.Random(5)
    subjects = [DataSubjectFactory() for _ in range(6)]
    base = timezone.now() - dt.timedelta(days=1)
    items = [
        ConsentEventInput(
            subject_id=rng.choice(subjects).pk,
            purpose=rng.choice(PURPOSES),
            action=rng.choice(["grant", "withdraw"]),
            channel="cookie_banner",
            at=base + dt.timedelta(seconds=rng.randint(0, 50)),
            client_event_id=f"copy-{i}",
            evidence={"ip": "192.0.2.9", "user_agent": "UA"},
        )
        for i in range(COPY_THRESHOLD + 50)
    ]
    result = consent_events_record_bulk(events=items, source="copy-test")
    assert result.created == len(items)
    for subject in subjects:
        assert actual_state(subject.pk) == expected_fold(subject.pk)
    again = consent_events_record_bulk(events=items, source="copy-test")
    assert again.created == 0 and again.duplicates == len(items)
