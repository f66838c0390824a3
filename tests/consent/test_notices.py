"""Consent and the notices outbox: opt-out confirmations, the marketing gate, policy-change notices."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from consent.gate import gate
from consent.models import ConsentEvent
from consent.services import consent_expiry_sweep, policy_version_create, policy_version_publish
from notices.gate import marketing_gate
from notices.models import Notice, NoticeKind
from notices.services import MarketingNotAllowed, notice_enqueue
from tests.consent.factories import grant, withdraw
from tests.factories import DataSubjectFactory

PROMO = {"headline": "New in SYSPRO", "body": "Three new features.", "cta_url": "https://us.syspro.com/new"}


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []


def _market(subject, key="promo:1", purpose="marketing_email"):
    return notice_enqueue(
        kind=NoticeKind.MARKETING,
        idempotency_key=key,
        context=PROMO,
        subject=subject,
        marketing_purpose=purpose,
    )


def test_consent_registers_its_gate_with_notices():
    assert marketing_gate() is gate


@pytest.mark.django_db
def test_marketing_to_an_opted_out_subject_is_refused_by_the_outbox():
    subject = DataSubjectFactory()
    grant(subject)
    withdraw(subject)
    with pytest.raises(MarketingNotAllowed):
        _market(subject)
    assert not Notice.objects.filter(kind=NoticeKind.MARKETING).exists()


@pytest.mark.django_db
def test_marketing_without_any_consent_or_after_expiry_is_refused():
    never = DataSubjectFactory()
    with pytest.raises(MarketingNotAllowed):
        _market(never, purpose="marketing_email")
    expired = DataSubjectFactory()
    grant(expired, "advertising_pixels", at=timezone.now() - dt.timedelta(days=396))  # 395-day lifetime
    with pytest.raises(MarketingNotAllowed):
        _market(expired, key="promo:2", purpose="advertising_pixels")


@pytest.mark.django_db
def test_marketing_with_consent_carries_a_working_one_click_unsubscribe(django_capture_on_commit_callbacks):
    subject = DataSubjectFactory()
    grant(subject)
    with django_capture_on_commit_callbacks(execute=True):
        notice = _market(subject)
    assert notice.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = notice.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://127.0.0.1:8000/consent/unsubscribe/")
    assert mail.outbox and mail.outbox[0].extra_headers["List-Unsubscribe"] == f"<{url}>"
    path = url.removeprefix("http://127.0.0.1:8000")
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
        )
    with pytest.raises(MarketingNotAllowed):
        _market(subject, key="promo:after-unsubscribe")


@pytest.mark.django_db
def test_withdrawal_enqueues_one_transactional_opt_out_confirmation(django_capture_on_commit_callbacks):
    subject = DataSubjectFactory(email="confirm.me@example.com")
    grant(subject)
    with django_capture_on_commit_callbacks(execute=True):
        event = withdraw(subject)
        again = withdraw(subject)  # idempotent: same event, nothing new sent
    assert again.pk == event.pk
    notice = Notice.objects.get(kind=NoticeKind.OPT_OUT_CONFIRMED)
    assert (notice.subject_id, notice.to_email, notice.marketing_purpose) == (
        subject.pk,
        "confirm.me@example.com",
        "",
    )
    assert "marketing emails" in notice.email_subject
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_one_click_unsubscribe_sends_the_confirmation(django_capture_on_commit_callbacks):
    from consent.tokens import unsubscribe_path

    subject = DataSubjectFactory()
    grant(subject)
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            unsubscribe_path(subject_public_id=subject.public_id, purpose="marketing_email"),
            {"List-Unsubscribe": "One-Click"},
        )
    assert Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED, subject=subject).count() == 1


@pytest.mark.django_db
def test_unsubscribing_from_all_marketing_sends_one_confirmation_naming_each_purpose(
    django_capture_on_commit_callbacks,
):
    from consent.tokens import unsubscribe_path

    subject = DataSubjectFactory()
    grant(subject, "marketing_email")
    grant(subject, "marketing_phone")
    path = unsubscribe_path(subject_public_id=subject.public_id, purpose="marketing_email")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(path, {"scope": "all_marketing"})
        Client().post(path, {"scope": "all_marketing"})  # a second click records and sends nothing
    (notice,) = Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED, subject=subject)
    withdrawn = ConsentEvent.objects.filter(subject=subject, action="withdraw")
    assert withdrawn.count() == withdrawn.values("purpose").distinct().count() >= 2
    confirmed = withdrawn.filter(purpose__confirm_withdrawal=True).select_related("purpose")
    assert confirmed.count() >= 2  # marketing emails and calls at least
    for event in confirmed:
        assert event.purpose.name.lower() in notice.body_text
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_cookie_withdrawals_and_imported_history_send_no_confirmation():
    from consent.services import consent_import_csv

    subject = DataSubjectFactory()
    grant(subject, "analytics_cookies", channel="cookie_banner")
    withdraw(subject, "analytics_cookies", channel="cookie_banner")  # confirm_withdrawal is off for cookies
    consent_import_csv(
        content=b"email,purpose,action,at\nold@example.com,marketing_email,withdraw,2020-01-01\n",
        file_name="x.csv",
    )
    assert not Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED).exists()


@pytest.mark.django_db
def test_bulk_api_withdrawal_that_ends_a_grant_is_confirmed_once():
    from consent.services import ConsentEventInput, consent_events_record_bulk

    subject = DataSubjectFactory()
    grant(subject)
    item = ConsentEventInput(
        subject_id=subject.pk,
        purpose="marketing_email",
        action="withdraw",
        channel="web_form",
        client_event_id="w1",
    )
    first = consent_events_record_bulk(events=[item], source="api:web", notify_withdrawals=True)
    second = consent_events_record_bulk(events=[item], source="api:web", notify_withdrawals=True)
    assert (first.notices, second.notices) == (1, 0)
    assert Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED).count() == 1


@pytest.mark.django_db
def test_publishing_a_policy_notifies_consenting_subjects_through_the_outbox(
    django_capture_on_commit_callbacks,
):
    consenting = [DataSubjectFactory() for _ in range(3)]
    for s in consenting:
        grant(s)
    silent = DataSubjectFactory()
    policy = policy_version_create(
        version="2026-11", effective_on=dt.date(2026, 12, 1), text="New policy", summary="Shorter retention."
    )
    with django_capture_on_commit_callbacks(execute=True):
        policy_version_publish(policy_version_id=policy.pk, notify_audience="consenting")
    notices = Notice.objects.filter(kind=NoticeKind.POLICY_CHANGED)
    assert set(notices.values_list("subject_id", flat=True)) == {s.pk for s in consenting}
    assert silent.pk not in set(notices.values_list("subject_id", flat=True))
    assert all("Shorter retention." in n.body_text for n in notices)
    assert all(n.marketing_purpose == "" for n in notices)  # transactional (policy §4, §11)


@pytest.mark.django_db
def test_the_expiry_sweep_reports_counts_to_the_privacy_office(settings):
    subject = DataSubjectFactory(email="expired.person@example.com")
    grant(subject, "analytics_cookies", at=timezone.now() - dt.timedelta(days=400))
    assert consent_expiry_sweep() == 1
    report = Notice.objects.get(kind=NoticeKind.OPERATIONS_REPORT)
    assert report.to_email == settings.PRIVACY_OFFICE_EMAIL
    assert "analytics_cookies: 1" in report.body_text
    assert "expired.person" not in report.body_text
    assert consent_expiry_sweep() == 0
    assert Notice.objects.filter(kind=NoticeKind.OPERATIONS_REPORT).count() == 1


@pytest.mark.django_db
def test_the_expiry_report_is_sent_once_per_business_day_not_per_utc_day(settings):
    """15:00 and 17:00 Pacific on 5 December are one business day (the second is 6 December in UTC)."""
    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    lifetime = dt.timedelta(days=395)  # analytics_cookies, seeded
    sweeps = [
        dt.datetime(2026, 12, 5, 23, 0, tzinfo=dt.UTC),  # 5 Dec, 15:00 PST
        dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC),  # 5 Dec, 17:00 PST
        dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC),  # 6 Dec, 01:00 PST
    ]
    for at in sweeps:
        grant(DataSubjectFactory(), "analytics_cookies", at=at - lifetime - dt.timedelta(minutes=30))
    reports = []
    for at in sweeps:
        with time_machine.travel(at, tick=False):
            assert consent_expiry_sweep() == 1
        reports.append(Notice.objects.filter(kind=NoticeKind.OPERATIONS_REPORT).count())
    assert reports == [1, 1, 2]


@pytest.mark.django_db
def test_no_opt_out_notice_is_sent_to_a_subject_without_an_address():
    subject = DataSubjectFactory(email="")
    grant(subject)
    event = withdraw(subject)
    assert isinstance(event, ConsentEvent) and event.action == "withdraw"
    assert not Notice.objects.exists()


@pytest.mark.django_db
def test_a_bulk_withdrawal_of_many_subjects_is_confirmed_through_one_bulk_enqueue(
    django_capture_on_commit_callbacks,
):
    """Issue 19: one confirmation per subject, written by notices' bulk enqueue (one audit event for the
    batch, none per notice), in statements that do not grow with the number of subjects."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.models import AuditEvent
    from consent.services import ConsentEventInput, consent_events_record_bulk

    counts = []
    for n, tag in ((3, "a"), (9, "b")):
        subjects = [DataSubjectFactory() for _ in range(n)]
        for s in subjects:
            grant(s)
        items = [
            ConsentEventInput(subject_id=s.pk, purpose="marketing_email", action="withdraw", channel="web_form",
                              client_event_id=f"{tag}{s.pk}")
            for s in subjects
        ]  # fmt: skip
        before = AuditEvent.objects.filter(action="notice.enqueued_batch").count()
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=False):
            result = consent_events_record_bulk(events=items, source="api:web", notify_withdrawals=True)
        counts.append(len(ctx.captured_queries))
        assert result.notices == n
        confirmed = Notice.objects.filter(kind=NoticeKind.OPT_OUT_CONFIRMED, subject__in=subjects)
        assert sorted(confirmed.values_list("subject_id", flat=True)) == sorted(s.pk for s in subjects)
        assert AuditEvent.objects.filter(action="notice.enqueued_batch").count() == before + 1
    assert not AuditEvent.objects.filter(action="notice.enqueued", details__kind="opt_out_confirmed").exists()
    assert counts[0] == counts[1], counts
