"""Admin: the outbox is read-only evidence with status filters and a retry action that calls the
service; templates show a rendered preview and refuse on save what doesn't render; breaches show
their clocks and progress; the dashboard counts the outbox."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from inventory.models import DataSubject
from notices.dashboard import dashboard_cards
from notices.models import Breach, BreachStatus, Notice, NoticeKind, NoticeStatus, NoticeTemplate
from notices.services import notice_deliver

from .factories import breach_form_data, enqueue_ack, make_breach

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notices_notice_changelist"
REFUSING = "tests.notices.backends.RefusingServerBackend"


def _staff(role: str) -> User:
    user = User.objects.create_user(username=role.lower().replace(" ", "_"), password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def officer_client(client):
    client.force_login(_staff("Privacy officer"))
    return client


@pytest.fixture
def analyst_client(client):
    client.force_login(_staff("Analyst"))
    return client


def _failed_notice(subject, settings, key="case:1:ack") -> Notice:
    settings.EMAIL_BACKEND = REFUSING
    notice = enqueue_ack(subject, key=key)
    notice_deliver(notice_id=notice.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notice.refresh_from_db()
    return notice


# --- Outbox -------------------------------------------------------------------------------------------
def test_outbox_changelist_filters_by_status(officer_client, subject, settings):
    failed = _failed_notice(subject, settings)
    pending = enqueue_ack(subject, key="case:2:ack")
    response = officer_client.get(reverse(CHANGELIST), {"status__exact": "failed"})
    assert response.status_code == 200
    assert str(failed.public_id)[:8] in response.text
    assert str(pending.public_id)[:8] not in response.text


def test_notice_detail_is_read_only_evidence_with_the_rendered_preview(officer_client, subject):
    notice = enqueue_ack(subject)
    url = reverse("admin:notices_notice_change", args=[notice.pk])
    response = officer_client.get(url)
    assert response.status_code == 200
    assert "We received your privacy request DSAR-2026-00042" in response.text
    assert 'sandbox=""' in response.text  # the HTML version is shown in a sandboxed frame
    assert 'name="_save"' not in response.text
    assert officer_client.post(url, {"status": "sent"}).status_code == 403
    assert officer_client.get(reverse("admin:notices_notice_add")).status_code == 403
    assert officer_client.get(reverse("admin:notices_notice_delete", args=[notice.pk])).status_code == 403


def test_retry_action_calls_the_service_and_the_notice_is_delivered(
    officer_client, subject, settings, django_capture_on_commit_callbacks
):
    notice = _failed_notice(subject, settings)
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(
            reverse(CHANGELIST), {"action": "retry_notices", "_selected_action": [notice.pk]}, follow=True
        )
    assert "1 notice(s) queued." in response.text
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="notice.retry_requested", actor_label="privacy_officer").exists()


def test_retry_refused_for_a_sent_notice_shows_why(
    officer_client, subject, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice = enqueue_ack(subject)
    response = officer_client.post(
        reverse(CHANGELIST), {"action": "retry_notices", "_selected_action": [notice.pk]}, follow=True
    )
    assert "Only failed or pending notices can be retried" in response.text


def test_analysts_see_the_outbox_but_cannot_retry(analyst_client, subject, settings):
    notice = _failed_notice(subject, settings)
    response = analyst_client.get(reverse(CHANGELIST))
    assert response.status_code == 200 and "retry_notices" not in response.text
    analyst_client.post(reverse(CHANGELIST), {"action": "retry_notices", "_selected_action": [notice.pk]})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED


def test_outbox_search_finds_a_notice_by_public_id_or_key(officer_client, subject):
    notice = enqueue_ack(subject, key="case:search:ack")
    for term in (str(notice.public_id), "case:search:ack"):
        response = officer_client.get(reverse(CHANGELIST), {"q": term})
        assert str(notice.public_id)[:8] in response.text


# --- Templates ----------------------------------------------------------------------------------------
def _template_post(**overrides) -> dict:
    data = {
        "kind": NoticeKind.REQUEST_ACKNOWLEDGED,
        "language": "en",
        "active": "on",
        "description": "",
        "subject_template": "Request {{ reference }}",
        "body_text_template": "Hello {{ recipient_name }}",
        "body_html_template": "",
        "sample_context": "{}",
    }
    data.update(overrides)
    return data


def test_template_with_a_syntax_error_is_refused_on_save_with_the_error_shown(officer_client):
    before = NoticeTemplate.objects.count()
    response = officer_client.post(
        reverse("admin:notices_noticetemplate_add"),
        _template_post(body_text_template="{% if reference %}unterminated"),
    )
    assert response.status_code == 200  # the form again, not a redirect
    assert "The text body has a syntax error" in response.text
    assert "Unclosed tag" in response.text
    assert NoticeTemplate.objects.count() == before


def test_template_change_in_the_admin_makes_a_new_version_through_the_service(officer_client):
    template = NoticeTemplate.objects.get(kind=NoticeKind.OPT_OUT_CONFIRMED, active=True)
    data = _template_post(
        subject_template="Unsubscribed: {{ purpose_name }}",
        body_text_template=template.body_text_template,
        body_html_template=template.body_html_template,
    )
    response = officer_client.post(reverse("admin:notices_noticetemplate_change", args=[template.pk]), data)
    assert response.status_code == 302, response.text[:2000]
    template.refresh_from_db()
    assert (template.version, template.subject_template) == (2, "Unsubscribed: {{ purpose_name }}")
    assert template.updated_by == "privacy_officer"
    assert AuditEvent.objects.filter(action="notice_template.changed", target_id=str(template.pk)).exists()


def test_template_change_page_shows_the_preview_rendered_from_the_sample(officer_client):
    template = NoticeTemplate.objects.get(kind=NoticeKind.DEADLINE_EXTENDED, active=True)
    response = officer_client.get(reverse("admin:notices_noticetemplate_change", args=[template.pk]))
    assert "We need more time for your request DSAR-2026-00042" in response.text
    assert "May 30, 2026" in response.text


def test_full_size_preview_is_served_sandboxed(officer_client):
    template = NoticeTemplate.objects.get(kind=NoticeKind.BREACH_NOTIFICATION, active=True)
    response = officer_client.get(reverse("admin:notices_template_preview", args=[template.pk]))
    assert response.status_code == 200
    assert "sandbox" in response["Content-Security-Policy"]
    assert "Notice of Data Breach</h1>" in response.text


def test_templates_cannot_be_deleted(officer_client):
    template = NoticeTemplate.objects.first()
    assert (
        officer_client.get(reverse("admin:notices_noticetemplate_delete", args=[template.pk])).status_code
        == 403
    )


# --- Breaches -----------------------------------------------------------------------------------------
@time_machine.travel(dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC), tick=False)
def test_breach_recorded_in_the_admin_shows_clocks_and_the_ca_count(officer_client):
    DataSubject.objects.bulk_create([DataSubject(name=f"P{i}", email=f"p{i}@example.com", country="US",
                                                 region="CA") for i in range(3)])  # fmt: skip
    discovered = timezone.now() - dt.timedelta(hours=10)
    data = breach_form_data(discovered)
    response = officer_client.post(reverse("admin:notices_breach_add"), data)
    assert response.status_code == 302, [str(e) for e in response.context["errors"]]
    breach = Breach.objects.get(title="Laptop stolen")
    assert breach.selection == {"countries": ["US"], "regions": ["CA"]}
    assert list(breach.categories.values_list("code", flat=True)) == ["contact"]
    page = officer_client.get(reverse("admin:notices_breach_change", args=[breach.pk])).text
    assert "72 h EU authority clock" in page and "2 d 14 h left" in page  # 72 h - 10 h
    assert "30-day California notice clock" in page
    assert "3 subjects, of whom 3 California residents" in page
    assert "Notice of Data Breach" in page  # the sample notice
    assert AuditEvent.objects.filter(action="breach.recorded", target_id=str(breach.pk)).exists()


def test_notify_action_starts_the_batches_and_progress_is_shown(
    officer_client, django_capture_on_commit_callbacks
):
    DataSubject.objects.bulk_create([DataSubject(name=f"P{i}", email=f"p{i}@example.com", country="US",
                                                 region="CA") for i in range(2)])  # fmt: skip
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=True):
        officer_client.post(
            reverse("admin:notices_breach_changelist"),
            {"action": "notify_subjects", "_selected_action": [breach.pk]},
        )
    breach.refresh_from_db()
    assert breach.status == BreachStatus.NOTIFIED
    page = officer_client.get(reverse("admin:notices_breach_change", args=[breach.pk])).text
    assert "2 of 2 subjects processed" in page and "Delivery: 2 sent" in page
    assert 'name="what_happened"' not in page  # the wording is frozen once people were told


def test_analysts_cannot_start_a_breach_notification(analyst_client, django_capture_on_commit_callbacks):
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=True):
        analyst_client.post(
            reverse("admin:notices_breach_changelist"),
            {"action": "notify_subjects", "_selected_action": [breach.pk]},
        )
    breach.refresh_from_db()
    assert breach.status == BreachStatus.DRAFT


# --- Dashboard ----------------------------------------------------------------------------------------
def test_dashboard_cards_count_pending_failed_and_sent_today(
    subject, settings, admin_user, django_capture_on_commit_callbacks
):
    _failed_notice(subject, settings, key="f")
    enqueue_ack(subject, key="p")
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_ack(subject, key="s")
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    cards = {c.title: c for c in dashboard_cards(request)}
    assert cards["Notices pending"].value == 1
    assert cards["Notices failed"].value == 1 and cards["Notices failed"].level == "danger"
    assert cards["Notices sent today"].value == 1
    assert "status__exact=failed" in cards["Notices failed"].url


def test_dashboard_card_links_open_filtered_changelists(admin_client, subject, settings):
    failed = _failed_notice(subject, settings)
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="admin")
    for card in dashboard_cards(request):
        response = admin_client.get(card.url)
        assert response.status_code == 200, card.title  # an invalid filter would redirect with ?e=1
    failed_url = next(c.url for c in dashboard_cards(request) if c.title == "Notices failed")
    assert str(failed.public_id)[:8] in admin_client.get(failed_url).text


def test_dashboard_shows_nothing_to_users_without_the_permission(db):
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_user(username="nobody", is_staff=True)
    assert dashboard_cards(request) == []
