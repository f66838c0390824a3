"""Issue 14 item 1: an opt-out overrides every grant received before it, whatever time the grant carried.

CAN-SPAM 15 U.S.C. §7704(a)(4); GDPR Art. 7(3), 21(3). A grant may be stamped up to 5 minutes in the
future (clock drift) and a withdrawal minutes in the past (a slow clock): neither may let marketing go on.
"""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.gate import gate
from consent.models import Action, Channel, ConsentEvent
from consent.selectors import consent_is_current, consent_status_at
from consent.services import consent_record
from consent.tokens import unsubscribe_path
from notices.models import Notice, NoticeKind
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_future_stamped_grant_is_clamped_to_its_receipt():
    subject = DataSubjectFactory()
    with time_machine.travel(T0, tick=False):
        event = grant(subject, at=T0 + dt.timedelta(minutes=4))
    assert event.at == T0 == event.recorded_at


@pytest.mark.django_db
def test_unsubscribing_minutes_after_a_future_stamped_grant_stops_marketing_and_confirms(
    django_capture_on_commit_callbacks,
):
    subject = DataSubjectFactory(email="drift@example.com")
    with time_machine.travel(T0, tick=False):
        grant(subject, at=T0 + dt.timedelta(minutes=5))  # the sender's clock runs 5 minutes fast
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                unsubscribe_path(subject_public_id=subject.public_id, purpose="marketing_email"),
                {"List-Unsubscribe": "One-Click"},
            )
        assert response.status_code == 200
        assert not consent_is_current(subject_id=subject.pk, purpose="marketing_email")
        assert not gate.may_send(subject_id=subject.pk, purpose="marketing_email")
    assert Notice.objects.filter(subject=subject, kind=NoticeKind.OPT_OUT_CONFIRMED).count() == 1
    # Still withdrawn once the grant's (claimed) time has passed.
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        assert not consent_is_current(subject_id=subject.pk, purpose="marketing_email")


@pytest.mark.django_db
def test_a_withdrawal_from_a_slow_clock_still_beats_the_grant_received_before_it():
    subject = DataSubjectFactory()
    with time_machine.travel(T0, tick=False):
        grant(subject)
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        consent_record(
            subject_id=subject.pk,
            purpose="marketing_email",
            action=Action.WITHDRAW,
            channel=Channel.API,
            at=T0 - dt.timedelta(minutes=3),  # the unsubscribing system's clock is 3.5 minutes slow
        )
        assert not consent_is_current(subject_id=subject.pk, purpose="marketing_email")
    assert not consent_status_at(
        subject_id=subject.pk, purpose="marketing_email", at=T0 + dt.timedelta(hours=1)
    )


@pytest.mark.django_db
def test_a_grant_given_after_the_opt_out_was_received_counts_again():
    subject = DataSubjectFactory()
    with time_machine.travel(T0, tick=False):
        grant(subject)
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        consent_record(subject_id=subject.pk, purpose="marketing_email", action="withdraw", channel="api")
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        grant(subject)
        assert consent_is_current(subject_id=subject.pk, purpose="marketing_email")


# --- the property ---------------------------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from([Action.GRANT, Action.WITHDRAW]),
        st.integers(min_value=-600, max_value=300),  # the sender's clock: 10 min slow .. 5 min fast
        st.integers(min_value=1, max_value=240),  # seconds until the next event reaches us
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_property_no_grant_received_before_an_opt_out_outranks_it(ops):
    """Interleaved grants and withdrawals with skewed clocks, received in order.

    After each event: if it was a withdrawal, marketing is off; if it was a grant dated after every
    earlier withdrawal's receipt (a real new consent), marketing is on.
    """
    subject = DataSubjectFactory()
    received = T0
    last_withdrawal_receipt = None
    for action, skew, gap in ops:
        received += dt.timedelta(seconds=gap)
        with time_machine.travel(received, tick=False):
            consent_record(
                subject_id=subject.pk,
                purpose="marketing_email",
                action=action,
                channel=Channel.API,
                at=received + dt.timedelta(seconds=skew),
            )
            current = consent_is_current(subject_id=subject.pk, purpose="marketing_email")
            if action == Action.WITHDRAW:
                last_withdrawal_receipt = received
                assert not current
            else:
                stamped = min(received, received + dt.timedelta(seconds=skew))
                if last_withdrawal_receipt is None or stamped > last_withdrawal_receipt:
                    assert current
    # The ledger keeps every event, and the audit fold agrees with the live state.
    assert ConsentEvent.objects.filter(subject=subject).count() == len(ops)
    with time_machine.travel(received + dt.timedelta(minutes=10), tick=False):
        assert consent_status_at(
            subject_id=subject.pk, purpose="marketing_email", at=received + dt.timedelta(minutes=10)
        ) == consent_is_current(subject_id=subject.pk, purpose="marketing_email")
