"""Rectification through the registry; Art. 19 recipient notifications as tracked tasks."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from inventory import models as inv
from inventory.services import record_create, record_reveal
from requests_app import services
from requests_app.models import CaseEvent, PrivacyRequest, RecipientNotification, RequestType, Status
from requests_app.tasks import notify_recipient
from tests.factories import ThirdPartyFactory, make_full_subject

from .factories import make_case


def _verified_case(officer, email, request_type=RequestType.RECTIFICATION):
    case = make_case(request_type=request_type, subject_email=email)
    services.request_verify_manually(
        case=case, method="phone", level="basic", reason="Called back", actor=officer
    )
    return PrivacyRequest.objects.get(pk=case.pk)


@pytest.fixture
def hosted_recipient():
    """A service provider running an external system that holds the subject's data."""
    provider = ThirdPartyFactory(
        kind=inv.ThirdParty.Kind.SERVICE_PROVIDER,
        legal_name="MailCo Ltd",
        privacy_contact_email="privacy@mailco.example",
    )
    silent = ThirdPartyFactory(kind=inv.ThirdParty.Kind.SERVICE_PROVIDER, legal_name="NoContact Inc")
    system = inv.System.objects.create(
        code="mailco", name="MailCo", kind="external", owner="Marketing", provider=provider
    )
    other = inv.System.objects.create(
        code="nocontact", name="NoContact CRM", kind="external", owner="Sales", provider=silent
    )
    return provider, silent, system, other


@pytest.mark.django_db
def test_corrections_are_applied_through_the_registry_and_only_field_names_are_recorded(
    officer, outbox, django_capture_on_commit_callbacks
):
    alice = make_full_subject(email="alice@example.com", name="Alice Liddel")
    bob = make_full_subject(email="bob@example.com", name="Bob Builder")
    case = _verified_case(officer, "alice@example.com")
    point = inv.ContactPoint.objects.get(subject=alice)
    services.rectification_add(
        case=case,
        model_label="inventory.DataSubject",
        field_name="name",
        value="Alice Liddell",
        actor=officer,
    )
    services.rectification_add(
        case=case,
        model_label="inventory.SurveyResponse",
        field_name="answer",
        value="Corrected answer",
        actor=officer,
    )
    services.rectification_add(
        case=case, model_label="inventory.ContactPoint", field_name="value", value="Alice.New@Example.com",
        record_id=point.pk, actor=officer,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)

    alice.refresh_from_db()
    assert alice.name == "Alice Liddell"
    survey = inv.SurveyResponse.objects.get(subject=alice)
    assert "Corrected" not in survey.answer  # stored sealed
    assert record_reveal(survey)["answer"] == "Corrected answer"
    point.refresh_from_db()
    assert (point.value, point.value_normalized) == ("Alice.New@Example.com", "alice.new@example.com")
    assert inv.DataSubject.objects.get(pk=bob.pk).name == "Bob Builder"

    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    summaries = list(case.events.filter(kind="rectification").values_list("summary", flat=True))
    assert "Corrected inventory.DataSubject.name on 1 record(s)" in summaries
    recorded = " ".join(summaries) + str(list(case.events.values_list("details", flat=True)))
    recorded += str(list(AuditEvent.objects.filter(subject_id=alice.pk).values_list("details", flat=True)))
    for value in ("Alice Liddell", "Corrected answer", "Alice.New"):
        assert value not in recorded


@pytest.mark.django_db
def test_corrections_are_validated_when_entered(officer):
    make_full_subject(email="alice@example.com")
    case = _verified_case(officer, "alice@example.com")
    with pytest.raises(ValidationError):
        services.rectification_add(
            case=case, model_label="auth.User", field_name="email", value="x", actor=officer
        )
    with pytest.raises(ValidationError):
        services.rectification_add(
            case=case,
            model_label="inventory.DataSubject",
            field_name="email_normalized",
            value="x",
            actor=officer,
        )
    with pytest.raises(ValidationError):
        services.rectification_add(
            case=case, model_label="inventory.DataSubject", field_name="country", value="USA", actor=officer
        )
    bob = make_full_subject(email="bob@example.com")
    with pytest.raises(ValidationError):
        services.rectification_add(
            case=case, model_label="inventory.ContactPoint", field_name="value", value="x@example.com",
            record_id=inv.ContactPoint.objects.get(subject=bob).pk, actor=officer,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="corrected values"):
        services.request_fulfil(case=case, actor=officer)


@pytest.mark.django_db
def test_art_19_each_recipient_is_told_by_a_tracked_task(
    officer, outbox, hosted_recipient, django_capture_on_commit_callbacks
):
    provider, silent, system, other = hosted_recipient
    alice = make_full_subject(email="alice@example.com", name="Alice Liddell")
    bob = make_full_subject(email="bob@example.com")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "email_open", "system": system})
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "email_open", "system": other})
    record_create(model=inv.ActivityEvent, subject=bob, values={"kind": "email_open", "system": system})
    case = _verified_case(officer, "alice@example.com")
    services.rectification_add(
        case=case,
        model_label="inventory.DataSubject",
        field_name="name",
        value="Alice P. Liddell",
        actor=officer,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)

    rows = {r.third_party.legal_name: r for r in RecipientNotification.objects.filter(case=case)}
    assert set(rows) == {"MailCo Ltd", "NoContact Inc"}
    sent = rows["MailCo Ltd"]
    assert sent.state == RecipientNotification.State.SENT
    assert sent.sealed_identifiers == ""  # personal data gone once handed to the outbox
    assert sent.fields_changed == ["inventory.DataSubject.name"]
    assert rows["NoContact Inc"].state == RecipientNotification.State.NO_CONTACT
    notice = outbox.last("recipient_notification")
    assert notice["to_email"] == "privacy@mailco.example"
    assert notice["context"]["action"] == "rectification"
    assert notice["context"]["subject_identifiers"] == ["alice@example.com", "Alice Liddell"]
    assert notice["context"]["third_party_name"] == "MailCo Ltd"
    # Linked to the person it is about (issue 14 item 10), so an erasure scrubs it after delivery.
    assert notice["subject"].pk == alice.pk
    assert notice["context"]["recipient_name"] == ""  # addressed to the recipient, not "Dear Alice"
    # idempotent: running the task again sends nothing new
    before = len(outbox.calls)
    assert notify_recipient.delay(sent.pk).get() == "sent"
    assert len(outbox.calls) == before
    assert CaseEvent.objects.filter(case=case, kind="recipient").count() == 3


@pytest.mark.django_db
def test_a_recipient_task_that_keeps_failing_is_marked_failed(officer, hosted_recipient, monkeypatch):
    from requests_app import gateways

    provider, _silent, system, _other = hosted_recipient
    alice = make_full_subject(email="alice@example.com")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "email_open", "system": system})
    case = _verified_case(officer, "alice@example.com", request_type=RequestType.RESTRICTION)

    def broken(**kwargs):
        if kwargs["kind"] == "recipient_notification":
            raise ConnectionError("smtp down")
        return type("Sent", (), {"pk": None})()

    monkeypatch.setattr(gateways, "notice_enqueue", broken)
    services.request_complete_restriction(
        case=case, outcome="Processing for profiling stopped", actor=officer
    )
    row = RecipientNotification.objects.get(case=case, third_party=provider)
    from celery.exceptions import Retry

    with pytest.raises(Retry):  # first failure: the task asks to be retried later, with backoff
        notify_recipient.apply(args=[row.pk], throw=True)
    row.refresh_from_db()
    assert row.state == RecipientNotification.State.PENDING
    notify_recipient.apply(args=[row.pk], retries=3)  # the last allowed retry fails too: give up
    row.refresh_from_db()
    assert row.state == RecipientNotification.State.FAILED
    assert row.last_error == "ConnectionError"


@pytest.mark.django_db
def test_a_lost_recipient_task_is_sent_again_by_the_watchdog(officer, outbox, hosted_recipient,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    from datetime import UTC, datetime, timedelta

    import time_machine

    provider, _silent, system, _other = hosted_recipient
    alice = make_full_subject(email="alice@example.com")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "email_open", "system": system})
    case = _verified_case(officer, "alice@example.com", request_type=RequestType.RESTRICTION)
    services.request_complete_restriction(case=case, outcome="Profiling stopped", actor=officer)  # task lost
    row = RecipientNotification.objects.get(case=case, third_party=provider)
    assert row.state == RecipientNotification.State.PENDING
    with (
        time_machine.travel(datetime.now(UTC) + timedelta(hours=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.fulfilment_watchdog()["recipients_requeued"] == 1
    row.refresh_from_db()
    assert row.state == RecipientNotification.State.SENT
