"""Issue 14 item 13: the California 30-day clock is met by notices SENT; a documented delay pauses it; the
GDPR Art. 34 decision is recorded on the breach and shown on its page."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from inventory.models import DataSubject
from notices.models import Art34Decision, Breach, CaDelayKind, NoticeStatus
from notices.selectors import breach_clocks
from notices.services import (
    breach_notify_batch,
    breach_notify_start,
    breach_record_art34_decision,
    breach_record_ca_delay,
)

from .factories import breach_form_data, make_breach

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def officer_client(client):
    user = User.objects.create_user(username="officer_g1", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name="Privacy officer"))
    client.force_login(user)
    return client


def _residents(n: int) -> None:
    DataSubject.objects.bulk_create(
        [DataSubject(name=f"R{i}", email=f"r{i}@example.com", country="US", region="CA") for i in range(n)]
    )


def _ca(breach):
    return next(c for c in breach_clocks(breach) if c.code == "ca_consumers")


def test_the_california_clock_is_met_when_every_residents_notice_is_sent_not_when_sending_starts(
    django_capture_on_commit_callbacks,
):
    _residents(3)
    breach = make_breach()
    with django_capture_on_commit_callbacks() as deliveries:  # notices queued, not delivered yet
        breach_notify_start(breach_id=breach.pk)
        while not breach_notify_batch(breach_id=breach.pk, batch_size=2).done:
            pass
    breach.refresh_from_db()
    assert breach.notify_started_at is not None and breach.notify_finished_at is not None
    assert breach.notices.filter(status=NoticeStatus.PENDING).count() == 3
    assert _ca(breach).done_at is None  # sending started and finished queueing: not met
    for deliver in deliveries:
        deliver()
    assert breach.notices.filter(status=NoticeStatus.SENT).count() == 3
    clock = _ca(breach)
    assert clock.done_at is not None and clock.done_at >= breach.notify_finished_at
    assert clock.done_at == max(breach.notices.values_list("sent_at", flat=True))


def test_a_documented_delay_pauses_the_california_clock_with_its_reason_and_dates():
    breach = make_breach(discovered_at=T0, aware_at=T0)
    assert _ca(breach).due == T0 + dt.timedelta(days=30)
    breach = breach_record_ca_delay(
        breach_id=breach.pk,
        kind=CaDelayKind.SCOPE_INTEGRITY,
        reason="Forensic review of the file server before restoring it.",
        delay_from=T0 + dt.timedelta(days=1),
        delay_until=T0 + dt.timedelta(days=6),
        actor="test",
    )
    assert _ca(breach).due == T0 + dt.timedelta(days=35)
    assert AuditEvent.objects.filter(action="breach.ca_delay_recorded", target_id=str(breach.pk)).exists()
    # A law-enforcement delay still running keeps the clock paused up to now.
    breach = breach_record_ca_delay(
        breach_id=breach.pk,
        kind=CaDelayKind.LAW_ENFORCEMENT,
        reason="FBI field office asked for 10 days (case 26-1234).",
        delay_from=T0 + dt.timedelta(days=2),
    )
    with time_machine.travel(T0 + dt.timedelta(days=9), tick=False):
        assert _ca(breach).due == T0 + dt.timedelta(days=37)
        assert not _ca(breach).overdue
    assert breach.law_enforcement_delay is True


def test_a_delay_without_its_reason_or_start_is_refused():
    breach = make_breach()
    with pytest.raises(ValidationError):
        breach_record_ca_delay(
            breach_id=breach.pk, kind=CaDelayKind.LAW_ENFORCEMENT, reason=" ", delay_from=timezone.now()
        )


def test_the_art34_decision_needs_its_ground_and_reason_and_is_audited():
    breach = make_breach()
    with pytest.raises(ValidationError, match="Art. 34"):
        breach_record_art34_decision(breach_id=breach.pk, decision=Art34Decision.PROTECTED, reason="")
    breach = breach_record_art34_decision(
        breach_id=breach.pk,
        decision=Art34Decision.PROTECTED,
        reason="The stolen laptop's disk was encrypted (AES-256); the key was not compromised.",
        actor="test",
    )
    assert breach.art34_decision == "art34_3_a"
    assert AuditEvent.objects.filter(action="breach.art34_decided", target_id=str(breach.pk)).exists()


@time_machine.travel(T0, tick=False)
def test_the_officer_records_the_art34_decision_and_a_delay_on_the_breach_page(officer_client):
    discovered = timezone.now() - dt.timedelta(hours=10)
    delay_from = discovered + dt.timedelta(hours=1)
    data = breach_form_data(
        discovered,
        art34_decision="art34_3_a",
        art34_reason="Full-disk encryption; the key was not on the laptop.",
        ca_delay_kind="scope_integrity",
        ca_delay_reason="Determining which exports were on the disk.",
        ca_delay_from_0=delay_from.strftime("%Y-%m-%d"),
        ca_delay_from_1=delay_from.strftime("%H:%M:%S"),
    )
    response = officer_client.post(reverse("admin:notices_breach_add"), data)
    assert response.status_code == 302, [str(e) for e in response.context["errors"]]
    breach = Breach.objects.get(title="Laptop stolen")
    assert (breach.art34_decision, breach.ca_delay_kind) == ("art34_3_a", "scope_integrity")
    page = officer_client.get(reverse("admin:notices_breach_change", args=[breach.pk])).text
    assert "GDPR Art. 34" in page
    assert "Not notified: data unintelligible, e.g. encrypted (Art. 34(3)(a))" in page
    assert "Full-disk encryption" in page
    assert "Paused" in page and "Determining which exports were on the disk." in page
    # Without a reason the exemption is refused on the page too.
    refused = officer_client.post(
        reverse("admin:notices_breach_add"), {**data, "title": "Second", "art34_reason": ""}
    )
    assert refused.status_code == 200 and not Breach.objects.filter(title="Second").exists()
