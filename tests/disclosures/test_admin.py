"""Admin screens: evidence read-only, banners, pinned query counts, exports and corrections via services."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse

from audit.models import AuditEvent
from disclosures import services
from disclosures.dashboard import dashboard_cards
from disclosures.models import (
    DisclosureBatch,
    DisclosureEvent,
    DisclosureExport,
    DisclosureNoticeRequest,
    DisclosureSettings,
    NoticeCorrection,
)

from .factories import MarketingPartnerFactory, bulk_subjects, customers, log

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "disclosurebatch",
    "disclosureevent",
    "disclosurenoticerequest",
    "noticecorrection",
    "correctionrecipient",
    "categorymapping",
    "disclosureexport",
]


def _staff(role: str) -> User:
    user = User.objects.create_user(username=role.lower().replace(" ", "_"), password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.parametrize("model", CHANGELISTS)
def test_every_changelist_loads(admin_client, model):
    log(customers(1), MarketingPartnerFactory(), "email")
    response = admin_client.get(reverse(f"admin:disclosures_{model}_changelist"))
    assert response.status_code == 200


def test_settings_open_on_the_single_row_and_changes_are_audited(admin_client):
    page = admin_client.get(reverse("admin:disclosures_disclosuresettings_changelist"), follow=True)
    assert page.status_code == 200 and page.redirect_chain[-1][0].endswith("/1/change/")
    form = {
        "employee_count": "12",
        "business_name": "SYSPRO USA",
        "business_postal_address": "959 South Coast Drive",
        "designated_postal_address": "",
        "designated_email": "privacy@example.com",
        "designated_phone": "",
        "show_same_brand_affiliate_count": "on",
    }
    saved = admin_client.post(reverse("admin:disclosures_disclosuresettings_change", args=[1]), form)
    assert saved.status_code == 302
    assert DisclosureSettings.objects.get().employee_count == 12
    event = AuditEvent.objects.get(action="disclosures.settings_changed")
    assert event.details["required"] is False and "employee_count" in event.details["changed"]


def test_under_20_employees_every_screen_says_the_notices_are_not_required(admin_client):
    services.disclosure_settings_update(employee_count=7, actor="test")
    page = admin_client.get(reverse("admin:disclosures_disclosurebatch_changelist"))
    assert "Not required: the company has 7 employees, fewer than 20" in page.content.decode()


def test_the_log_and_delivered_notices_are_read_only_evidence(rf):
    request = rf.get("/")
    request.user = User.objects.create_superuser("root", password="x" * 16)
    for model in (DisclosureBatch, DisclosureEvent, DisclosureNoticeRequest):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert "delete_selected" not in model_admin.get_actions(request)


def test_an_analyst_exports_from_the_admin_and_the_download_is_audited(
    client, media_root, django_capture_on_commit_callbacks
):
    analyst = _staff("Analyst")
    client.force_login(analyst)
    log(customers(2), MarketingPartnerFactory(legal_name="Export Partner Inc."), "email")
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(
            reverse("admin:disclosures_export_new"), {"year": 2025, "format": "csv", "notice_format": "pdf"}
        )
    assert queued.status_code == 302
    export = DisclosureExport.objects.get()
    assert export.status == DisclosureExport.Status.READY and export.requested_by == analyst
    listing = client.get(reverse("admin:disclosures_disclosureexport_changelist")).content.decode()
    download_url = reverse("admin:disclosures_export_download", args=[export.pk])
    assert download_url in listing
    response = client.get(download_url)
    assert response.status_code == 200
    assert b"Export Partner Inc." in b"".join(response.streaming_content)
    assert 'filename="1798-83-2025-csv.csv"' in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="disclosures.export_downloaded")
    assert event.actor_label == analyst.username


def test_an_auditor_can_read_but_neither_export_nor_download(
    client, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(year=2025, actor="analyst")
    client.force_login(_staff("Auditor"))
    assert client.get(reverse("admin:disclosures_disclosureexport_changelist")).status_code == 200
    assert client.get(reverse("admin:disclosures_export_new")).status_code == 403
    assert client.get(reverse("admin:disclosures_export_download", args=[export.pk])).status_code == 403


def test_an_officer_opens_a_correction_and_queues_the_corrected_notices(
    client, outbox, django_capture_on_commit_callbacks
):
    client.force_login(_staff("Privacy officer"))
    (alice,) = customers(1)
    services.notice_1798_83_deliver(subject_id=alice.pk, year=2025)
    log(alice, MarketingPartnerFactory(), "email")
    opened = client.post(
        reverse("admin:disclosures_correction_open"), {"year": 2025, "reason": "Missed share"}
    )
    assert opened.status_code == 302
    correction = NoticeCorrection.objects.get()
    assert correction.affected_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:disclosures_noticecorrection_changelist"),
            {"action": "send_corrected_notices", "_selected_action": [correction.pk]},
        )
    correction.refresh_from_db()
    assert correction.sent_count == 1
    refused = client.post(reverse("admin:disclosures_correction_open"), {"year": 2025, "reason": "again"})
    assert "nothing to correct" in refused.content.decode()


def test_an_officer_previews_and_opens_notices_as_sent(admin_client, outbox):
    (bob,) = customers(1)
    log(bob, MarketingPartnerFactory(legal_name="Preview Partner Inc."), "email")
    preview = admin_client.get(
        reverse("admin:disclosures_notice_preview"),
        {"subject": str(bob.public_id), "year": 2025, "format": "html"},
    )
    assert preview.status_code == 200 and b"Preview Partner Inc." in preview.content
    services.notice_1798_83_deliver(subject_id=bob.pk, year=2025)
    row = DisclosureNoticeRequest.objects.get()
    pdf = admin_client.get(reverse("admin:disclosures_notice_render", args=[row.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="disclosures.notice_previewed", subject_id=bob.pk).exists()
    assert AuditEvent.objects.filter(action="disclosures.notice_viewed", subject_id=bob.pk).exists()


def test_dashboard_cards_show_the_gate_and_the_years_figures(outbox):
    log(bulk_subjects(4), MarketingPartnerFactory(), "email", when=None)
    request = RequestFactory().get("/admin/")
    request.user = _staff("Analyst")
    cards = {c.title.split(" 20")[0]: c for c in dashboard_cards(request)}
    assert cards["§1798.83 notices"].value == "Required"
    assert cards["§1798.83 notices"].level == "warning"  # employee count not set yet
    assert "Exports ready" in cards
    nobody = RequestFactory().get("/admin/")
    nobody.user = User.objects.create_user("visitor", password="x" * 16)
    assert dashboard_cards(nobody) == []


def test_roles_give_analysts_exports_and_officers_corrections():
    analyst, auditor, officer = (Group.objects.get(name=n) for n in ("Analyst", "Auditor", "Privacy officer"))

    def perms(group):
        return set(group.permissions.values_list("codename", flat=True))

    assert "run_export" in perms(analyst) and "manage_correction" not in perms(analyst)
    assert "run_export" not in perms(auditor) and "view_disclosureevent" in perms(auditor)
    assert {"manage_correction", "log_disclosures", "change_disclosuresettings"} <= perms(officer)
    assert not {"change_disclosureevent", "delete_disclosureevent", "add_disclosureevent"} & perms(officer)


def test_the_admin_index_shows_the_disclosures_cards(admin_client):
    services.disclosure_settings_update(employee_count=15, actor="test")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "§1798.83 notices" in page and "Not required" in page
    assert "§1798.84(d) corrections open" in page
