"""The sweep's dry run counts exactly what the sweep then erases, minors and open requests included
(issue 14 items 8 and 16)."""

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import models as inv
from requests_app.models import PrivacyRequest, RequestType, Status
from retention.dry_run import sweep_dry_run
from retention.models import Action, SweepRun
from retention.services import legal_hold_place
from tests.factories import make_full_subject
from tests.requests_app.factories import make_case

from . import factories as f

BASE = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)

_people = st.lists(st.booleans(), min_size=1, max_size=3)  # each: is a minor
_records = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["activity", "marketing", "survey"]), st.integers(0, 1500)),
    max_size=10,
)


def _open_access_case(subject: inv.DataSubject, kind: str = RequestType.ACCESS) -> PrivacyRequest:
    """An open case of the subject, opened through the intake service (received, not yet answered)."""
    return make_case(request_type=kind, subject_email=subject.email, subject_name="Case Person")


def _build(people, records, full: bool):
    subjects = [
        (make_full_subject(is_minor=minor) if full else f.subject(is_minor=minor)) for minor in people
    ]
    for who, code, age in records:
        owner = subjects[who % len(subjects)]
        collected = BASE - dt.timedelta(days=age, minutes=age)
        {"activity": f.activity, "marketing": f.marketing, "survey": f.survey}[code](owner, collected)
    return subjects


@pytest.mark.django_db
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    people=_people,
    records=_records,
    full=st.booleans(),
    hold_on=st.one_of(st.none(), st.integers(0, 2)),
    open_on=st.one_of(st.none(), st.integers(0, 2)),
    survey_action=st.sampled_from([Action.DELETE, Action.ANONYMISE]),
    clock_days=st.integers(0, 800),
)
def test_the_dry_run_counts_exactly_what_the_sweep_erases(
    people, records, full, hold_on, open_on, survey_action, clock_days
):
    with transaction.atomic():
        with time_machine.travel(BASE, tick=False):
            f.only_these_schedules()
            f.schedule("activity", months=24)
            f.schedule("marketing", months=12)
            f.schedule("survey", months=36, action=survey_action)
            subjects = _build(people, records, full)
            if hold_on is not None:
                legal_hold_place(
                    subject_id=subjects[hold_on % len(subjects)].pk, reason="Property test", owner="Legal"
                )
            if open_on is not None:
                _open_access_case(subjects[open_on % len(subjects)])
        with time_machine.travel(BASE + dt.timedelta(days=clock_days), tick=False):
            dry = sweep_dry_run()
            run = f.sweep()
        assert dry.would_erase == run.erased_count
        assert dry.open_request == sum(t.get("kept_open_request", 0) for t in run.summary.values())
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_dry_run_counts_the_minors_records_that_the_schedules_alone_miss():
    with time_machine.travel(BASE, tick=False):
        make_full_subject(is_minor=True)
        dry = sweep_dry_run()
        assert dry.minors_would_erase > 0
        assert dry.would_erase == dry.records_would_erase + dry.minors_would_erase
        run = f.sweep()
    assert run.erased_count == dry.would_erase


@pytest.mark.django_db
def test_a_subject_with_an_open_access_case_is_kept_out_of_the_sweep_until_it_closes():
    with time_machine.travel(BASE, tick=False):
        f.only_these_schedules()
        f.schedule("activity", months=24)
        waiting, other = f.subject(), f.subject()
        kept = f.activity(waiting, BASE - dt.timedelta(days=900))
        gone = f.activity(other, BASE - dt.timedelta(days=900))
        case = _open_access_case(waiting, RequestType.PORTABILITY)
        dry = sweep_dry_run()
        assert dry.open_request == 1 and dry.would_erase == 1
        run = f.sweep()
        assert inv.ActivityEvent.objects.filter(pk=kept.pk).exists()
        assert not inv.ActivityEvent.objects.filter(pk=gone.pk).exists()
        assert run.summary["activity"]["kept_open_request"] == 1
        PrivacyRequest.objects.filter(pk=case.pk).update(status=Status.COMPLETED)
        f.sweep()
        assert not inv.ActivityEvent.objects.filter(pk=kept.pk).exists()


@pytest.mark.django_db
def test_a_minor_with_an_open_access_case_waits_for_it_and_is_counted_kept():
    with time_machine.travel(BASE, tick=False):
        child = make_full_subject(is_minor=True)
        _open_access_case(child)
        dry = sweep_dry_run()
        assert dry.minors_would_erase == 0 and dry.open_request > 0
        run = f.sweep()
        assert run.erased_count == dry.would_erase
        child.refresh_from_db()
        assert child.erased_at is None


@pytest.mark.django_db
def test_sweep_now_shows_the_dry_run_with_minors_and_asks_to_confirm_the_count(
    admin_client, django_capture_on_commit_callbacks
):
    make_full_subject(is_minor=True)
    f.activity(f.subject(), f.ago(days=900))
    dry = sweep_dry_run()
    url = reverse("admin:retention_sweeprun_sweep_now")
    page = admin_client.post(url).content.decode()  # the changelist's button
    assert not SweepRun.objects.exists()
    assert f"Yes, erase {dry.would_erase} records now" in page
    assert f"{dry.minors_would_erase} of 1 minor" in page
    stale = admin_client.post(url, {"confirm": "yes", "count": str(dry.would_erase + 1)})
    assert not SweepRun.objects.exists() and "figures changed" in stale.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(url, {"confirm": "yes", "count": str(dry.would_erase)}, follow=True)
    assert f"confirmed: {dry.would_erase} records" in done.content.decode()
    assert SweepRun.objects.get().erased_count == dry.would_erase
