"""The status workflow: every transition allowed or refused, guarded against concurrent changes."""

import itertools

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from requests_app import policy, services, workflow
from requests_app.models import CaseEvent, DenialBasis, PrivacyRequest, Regime, RequestType, Status

from .factories import make_case

ALLOWED = {
    (Status.RECEIVED, Status.VERIFYING),
    (Status.RECEIVED, Status.IDENTITY_IN_DOUBT),
    (Status.RECEIVED, Status.IN_PROGRESS),
    (Status.RECEIVED, Status.DENIED),
    (Status.RECEIVED, Status.WITHDRAWN),
    (Status.VERIFYING, Status.IDENTITY_IN_DOUBT),
    (Status.VERIFYING, Status.IN_PROGRESS),
    (Status.VERIFYING, Status.DENIED),
    (Status.VERIFYING, Status.WITHDRAWN),
    (Status.IDENTITY_IN_DOUBT, Status.VERIFYING),
    (Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS),
    (Status.IDENTITY_IN_DOUBT, Status.DENIED),
    (Status.IDENTITY_IN_DOUBT, Status.WITHDRAWN),
    (Status.IN_PROGRESS, Status.COMPLETED),
    (Status.IN_PROGRESS, Status.DENIED),
    (Status.IN_PROGRESS, Status.WITHDRAWN),
    # Issue 14 item 5: an erasure a legal hold partly deferred waits for the release, then resumes.
    (Status.IN_PROGRESS, Status.WAITING_HOLD_RELEASE),
    (Status.WAITING_HOLD_RELEASE, Status.IN_PROGRESS),
    (Status.WAITING_HOLD_RELEASE, Status.DENIED),
    (Status.WAITING_HOLD_RELEASE, Status.WITHDRAWN),
    # Issue 14 item 15: a built package waits for the officer's approval (released, or back to work).
    (Status.IN_PROGRESS, Status.AWAITING_APPROVAL),
    (Status.AWAITING_APPROVAL, Status.COMPLETED),
    (Status.AWAITING_APPROVAL, Status.IN_PROGRESS),
    (Status.AWAITING_APPROVAL, Status.DENIED),
    (Status.AWAITING_APPROVAL, Status.WITHDRAWN),
}
PAIRS = list(itertools.product(Status.values, Status.values))


def test_the_transition_table_is_exactly_the_documented_workflow():
    table = {(a, b) for a, targets in policy.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


def _case_in(status: str) -> PrivacyRequest:
    case = make_case(request_type=RequestType.ERASURE)
    PrivacyRequest.objects.filter(pk=case.pk).update(status=status, denial_basis=DenialBasis.OTHER)
    case.refresh_from_db()
    return case


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused(current, target):
    case = _case_in(current)
    events_before = CaseEvent.objects.filter(case=case).count()
    extra = {"denial_basis": DenialBasis.OTHER} if target == Status.DENIED else {}
    if (current, target) in ALLOWED:
        workflow.transition(case, target, actor="test", **extra)
        case.refresh_from_db()
        assert case.status == target
        last = CaseEvent.objects.filter(case=case).order_by("-id").first()
        assert (last.kind, last.from_status, last.to_status) == ("transition", current, target)
        assert AuditEvent.objects.filter(action="request.transition", target_id=str(case.pk)).exists()
        if target in (Status.COMPLETED, Status.DENIED, Status.WITHDRAWN):
            assert case.closed_at is not None
    else:
        with pytest.raises(ValidationError, match="can't become"):
            workflow.transition(case, target, actor="test", **extra)
        case.refresh_from_db()
        assert case.status == current
        assert CaseEvent.objects.filter(case=case).count() == events_before


@pytest.mark.django_db
def test_a_stale_copy_of_the_case_cannot_move_it():
    case = make_case()
    stale = PrivacyRequest.objects.get(pk=case.pk)
    services.request_withdraw(case=case, reason="Requester wrote to withdraw", actor="test")
    assert stale.status == Status.VERIFYING
    with pytest.raises(ValidationError, match="Someone else changed"):
        workflow.transition(stale, Status.IN_PROGRESS, actor="test")
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.WITHDRAWN


@pytest.mark.django_db
def test_intake_opens_verifying_case_with_acknowledgement_and_link(outbox):
    case = make_case()
    assert case.status == Status.VERIFYING
    assert outbox.kinds() == ["request_acknowledged", "identity_verification"]
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["created", "notice", "transition", "notice"]
    actions = set(AuditEvent.objects.filter(subject_id=case.subject_id).values_list("action", flat=True))
    assert {"request.created", "request.notice", "request.transition"} <= actions


@pytest.mark.django_db
def test_deny_needs_reason_and_basis_and_gdpr_notice_names_the_right_to_complain(officer, outbox):
    case = make_case(regime=Regime.GDPR)
    with pytest.raises(ValidationError):
        services.request_deny(case=case, basis=DenialBasis.EXCESSIVE, reason="  ", actor=officer)
    with pytest.raises(ValidationError):
        services.request_deny(case=case, basis="because", reason="Repeated request", actor=officer)
    services.request_deny(
        case=case, basis=DenialBasis.EXCESSIVE, reason="Fifth identical request", actor=officer
    )
    case.refresh_from_db()
    assert (case.status, case.denial_basis) == (Status.DENIED, DenialBasis.EXCESSIVE)
    notice = outbox.last("request_denied")
    assert "supervisory authority" in notice["context"]["right_to_complain"]
    assert notice["context"]["reasons"].endswith("Fifth identical request")


@pytest.mark.django_db
def test_ccpa_denial_does_not_cite_the_gdpr_complaint_right(officer, outbox):
    case = make_case(regime=Regime.CCPA)
    services.request_deny(case=case, basis=DenialBasis.NO_DATA, reason="We hold nothing", actor=officer)
    assert "right_to_complain" not in outbox.last("request_denied")["context"]


@pytest.mark.django_db
def test_closed_cases_refuse_further_work(officer):
    case = make_case()
    services.request_withdraw(case=case, reason="Changed their mind", actor=officer)
    with pytest.raises(ValidationError):
        services.request_deny(case=case, basis=DenialBasis.OTHER, reason="x", actor=officer)
    with pytest.raises(ValidationError):
        services.request_assign(case=case, assignee=officer, actor=officer)
    with pytest.raises(ValidationError):
        services.request_extend(case=case, reason="busy", actor=officer)
    with pytest.raises(ValidationError):
        services.verification_start(case=case, actor=officer)


@pytest.mark.django_db
def test_assign_only_to_staff_and_every_assignment_is_on_the_timeline(officer, django_user_model):
    case = make_case()
    outsider = django_user_model.objects.create_user(username="bob", password="x" * 16)
    with pytest.raises(ValidationError):
        services.request_assign(case=case, assignee=outsider, actor=officer)
    services.request_assign(case=case, assignee=officer, actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).assignee == officer
    assert case.events.filter(kind="assigned").count() == 1


@pytest.mark.django_db
def test_notes_are_sealed_under_the_subject_key_and_events_are_append_only(officer):
    from django.db import DatabaseError, transaction

    case = make_case()
    event = services.request_note_add(case=case, note="Caller sounded unsure", actor=officer)
    assert "unsure" not in event.note
    with pytest.raises(DatabaseError), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).update(summary="rewritten")


@pytest.mark.django_db
def test_fee_needs_a_justification(officer):
    from decimal import Decimal

    case = make_case()
    with pytest.raises(ValidationError):
        services.request_set_fee(case=case, amount=Decimal("25"), justification="", actor=officer)
    services.request_set_fee(
        case=case, amount=Decimal("25"), justification="Manifestly excessive", actor=officer
    )
    assert PrivacyRequest.objects.get(pk=case.pk).fee_amount == Decimal("25.00")


@pytest.mark.django_db
def test_duplicate_inside_the_window_is_flagged(settings):
    first = make_case(subject_email="dup@example.com", request_type=RequestType.ACCESS)
    second = make_case(subject_email="DUP@example.com ", request_type=RequestType.ACCESS)
    other_type = make_case(subject_email="dup@example.com", request_type=RequestType.ERASURE)
    assert second.subject_id == first.subject_id
    assert second.possible_duplicate_of_id == first.pk
    assert other_type.possible_duplicate_of_id is None
    assert second.events.filter(kind="duplicate").exists()


@pytest.mark.django_db
def test_duplicate_window_is_configurable(settings):
    from datetime import UTC, datetime

    import time_machine

    settings.REQUESTS_DUPLICATE_WINDOW_DAYS = 30
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        make_case(subject_email="w@example.com")
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        late = make_case(subject_email="w@example.com")
    assert late.possible_duplicate_of_id is None
    settings.REQUESTS_DUPLICATE_WINDOW_DAYS = 365
    again = make_case(subject_email="w@example.com")
    assert again.possible_duplicate_of_id is not None


@pytest.mark.django_db
def test_intake_links_an_existing_subject_by_email_and_creates_unknown_ones():
    from inventory.models import DataSubject
    from tests.factories import DataSubjectFactory

    known = DataSubjectFactory(email="known@example.com", name="Known Person", phone="+1 415 555 0100")
    case = make_case(
        subject_email=" Known@Example.com", subject_name="known person", subject_phone="4155550100"
    )
    assert case.subject_id == known.pk
    assert case.data_points_matched == 2
    fresh = make_case(subject_email="new.person@example.com", subject_name="New Person")
    assert DataSubject.objects.get(pk=fresh.subject_id).email == "new.person@example.com"
    assert fresh.data_points_matched == 0


@pytest.mark.django_db
def test_1798_83_requests_only_under_that_regime():
    with pytest.raises(ValidationError):
        make_case(request_type=RequestType.NOTICE_1798_83, regime=Regime.CCPA)
    with pytest.raises(ValidationError):
        make_case(request_type=RequestType.ACCESS, regime=Regime.CAL_1798_83)


@pytest.mark.django_db
def test_a_third_ccpa_request_to_know_in_12_months_is_flagged():
    for _ in range(3):
        case = make_case(
            request_type=RequestType.ACCESS, regime=Regime.CCPA, subject_email="often@example.com"
        )
    assert case.events.filter(summary__contains="number 3 in 12 months").exists()
    assert "§1798.130(b)" in case.events.get(summary__contains="number 3").summary


@pytest.mark.django_db
def test_ccpa_lookback_can_reach_back_to_2022_but_not_earlier(officer):
    from datetime import date

    case = make_case(request_type=RequestType.ACCESS, regime=Regime.CCPA)
    assert case.lookback_from is not None
    with pytest.raises(ValidationError):
        services.request_set_lookback(case=case, since=date(2021, 12, 31), actor=officer)
    services.request_set_lookback(case=case, since=date(2022, 1, 1), actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).lookback_from == date(2022, 1, 1)
    gdpr = make_case(request_type=RequestType.ACCESS, regime=Regime.GDPR)
    with pytest.raises(ValidationError):
        services.request_set_lookback(case=gdpr, since=date(2023, 1, 1), actor=officer)


@pytest.mark.django_db
def test_fee_and_lookback_buttons_go_through_services(client, officer):
    client.force_login(officer)
    case = make_case(request_type=RequestType.ACCESS, regime=Regime.CCPA)
    url = f"/admin/requests_app/privacyrequest/{case.pk}/act/"
    client.post(url + "fee/", {"amount": "10.00", "justification": ""})
    assert PrivacyRequest.objects.get(pk=case.pk).fee_amount is None  # refused: no justification
    client.post(url + "fee/", {"amount": "10.00", "justification": "Sixth copy this year"})
    assert str(PrivacyRequest.objects.get(pk=case.pk).fee_amount) == "10.00"
    client.post(url + "lookback/", {"since": "2023-01-01"})
    assert str(PrivacyRequest.objects.get(pk=case.pk).lookback_from) == "2023-01-01"
