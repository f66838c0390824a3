"""§1798.84(d) cure tracker: every affected customer gets a corrected notice, on a 90-day clock."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from disclosures import rules, services
from disclosures.models import CorrectionRecipient, DisclosureNoticeRequest, NoticeCorrection
from disclosures.notice import NoticeContent

from .factories import MarketingPartnerFactory, at, customers, log

pytestmark = pytest.mark.django_db

DISCOVERED = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def notified(outbox):
    """Three customers got their 2025 notices; then a forgotten share with alice and bob is logged."""
    alice, bob, carol = customers(3)
    first, forgotten = MarketingPartnerFactory(), MarketingPartnerFactory(legal_name="Forgotten Lists LLC")
    log([alice, bob, carol], first, "email", when=at(2025, 2))
    for person in (alice, bob, carol):
        services.notice_1798_83_deliver(subject_id=person.pk, year=2025, case_reference=f"case-{person.pk}")
    log([alice, bob], forgotten, "telephone_number", when=at(2025, 4))
    return alice, bob, carol, forgotten


def _open(**kwargs):
    with time_machine.travel(DISCOVERED, tick=False):
        return services.correction_open(year=2025, reason="Partner share of April not in the log", **kwargs)


def test_a_correction_lists_exactly_the_customers_whose_notice_was_wrong_with_a_90_day_clock(notified):
    alice, bob, carol, _forgotten = notified
    correction = _open()
    affected = set(correction.recipients.values_list("subject_id", flat=True))
    assert affected == {alice.pk, bob.pk}  # carol's notice was right
    assert correction.discovered_at == DISCOVERED
    assert correction.cure_deadline == DISCOVERED + dt.timedelta(days=rules.CURE_PERIOD_DAYS)
    assert correction.status == NoticeCorrection.Status.OPEN and correction.affected_count == 2
    assert AuditEvent.objects.filter(action="disclosures.correction_opened").count() == 1


def test_sending_the_corrections_cures_within_the_clock(notified, outbox):
    alice, bob, _carol, forgotten = notified
    correction = _open()
    with time_machine.travel(DISCOVERED + dt.timedelta(days=10), tick=False):
        assert services.correction_send_notices(correction_id=correction.pk, actor="officer") == 2
    correction.refresh_from_db()
    assert correction.status == NoticeCorrection.Status.CURED and correction.sent_count == 2
    assert set(correction.recipients.values_list("status", flat=True)) == {CorrectionRecipient.Status.SENT}
    corrected = DisclosureNoticeRequest.objects.get(
        subject=alice, kind=DisclosureNoticeRequest.Kind.CORRECTION
    )
    stated = NoticeContent.from_statement(corrected.statement)
    assert forgotten.pk in {r.third_party_id for r in stated.recipients}
    assert stated.categories == ("email", "telephone_number")
    assert corrected.correction_id == correction.pk
    # A correction is not the customer's request: it does not use up their once-per-year notice.
    assert rules.prior_1798_83_requests(subject_id=alice.pk, year=2025) == 1
    # Sending again sends nothing new.
    assert services.correction_send_notices(correction_id=correction.pk) == 0


def test_a_correction_past_90_days_lapses_and_is_cured_late_when_finally_sent(notified):
    correction = _open()
    with time_machine.travel(DISCOVERED + dt.timedelta(days=89), tick=False):
        assert services.corrections_check_deadlines() == 0
    with time_machine.travel(DISCOVERED + dt.timedelta(days=91), tick=False):
        assert services.corrections_check_deadlines() == 1
        correction.refresh_from_db()
        assert correction.status == NoticeCorrection.Status.LAPSED
        services.correction_send_notices(correction_id=correction.pk)
    correction.refresh_from_db()
    assert correction.status == NoticeCorrection.Status.CURED_LATE


def test_erased_customers_are_skipped_not_sent(notified):
    alice, bob, _carol, _f = notified
    correction = _open()
    bob.erased_at = timezone.now()
    bob.save()
    with time_machine.travel(DISCOVERED + dt.timedelta(days=5), tick=False):
        services.correction_send_notices(correction_id=correction.pk)
    statuses = dict(correction.recipients.values_list("subject_id", "status"))
    assert statuses == {alice.pk: CorrectionRecipient.Status.SENT, bob.pk: CorrectionRecipient.Status.SKIPPED}
    correction.refresh_from_db()
    assert correction.status == NoticeCorrection.Status.CURED


def test_scoping_to_a_recipient_and_including_every_requester(notified):
    alice, bob, carol, forgotten = notified
    other = MarketingPartnerFactory()
    with pytest.raises(ValidationError, match="nothing to correct"):
        _open(third_party_id=other.pk)
    assert set(_open(third_party_id=forgotten.pk).recipients.values_list("subject_id", flat=True)) == {
        alice.pk,
        bob.pk,
    }
    everyone = _open(all_requesters=True)
    assert set(everyone.recipients.values_list("subject_id", flat=True)) == {alice.pk, bob.pk, carol.pk}


def test_nothing_to_correct_is_refused_and_nothing_is_written(outbox):
    (dora,) = customers(1)
    services.notice_1798_83_deliver(subject_id=dora.pk, year=2025)
    with pytest.raises(ValidationError, match="nothing to correct"):
        _open()
    assert not NoticeCorrection.objects.exists()
