"""The case page as a workspace (issue 16): a header with the facts, the workflow buttons grouped by stage
in a side panel outside the case's form, and the case list's subject and requester columns and email search."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from requests_app import case_page, deadlines
from requests_app.case_actions import CASE_ACTIONS
from requests_app.models import PrivacyRequest, Regime, RequestType

from .factories import make_case

CHANGELIST = "/admin/requests_app/privacyrequest/"


def test_every_workflow_button_has_a_stage():
    assert {a.name for a in CASE_ACTIONS} <= set(case_page.ACTION_STAGES)
    assert set(case_page.ACTION_STAGES.values()) <= set(case_page.STAGES)


@pytest.mark.django_db
def test_case_header_says_type_regime_status_due_with_days_left_assignee_and_requester(client, officer):
    client.force_login(officer)
    case = make_case(
        request_type=RequestType.ERASURE, regime=Regime.CCPA, requester_email="asker@example.com"
    )
    PrivacyRequest.objects.filter(pk=case.pk).update(due_on=deadlines.business_today() + timedelta(days=3))
    page = client.get(f"{CHANGELIST}{case.pk}/change/").content.decode()
    header = page.split('id="case-header"')[1].split("</section>")[0]
    assert str(case.reference) in header
    assert "Erasure" in header or "erasure" in header.lower()
    assert "CCPA" in header
    assert "3 days left" in header and 'data-due-state="due_soon"' in header
    assert "Unassigned" in header
    assert case.subject.email in header


@pytest.mark.django_db
def test_overdue_case_header_counts_days_overdue(officer):
    case = make_case()
    PrivacyRequest.objects.filter(pk=case.pk).update(due_on=deadlines.business_today() - timedelta(days=1))
    header = case_page.case_header(PrivacyRequest.objects.select_related("subject").get(pk=case.pk))
    assert header.due_text == "1 day overdue" and header.due_state == "overdue"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("due_on", "text", "state"),
    [(date(2026, 3, 1), "1 day overdue", "overdue"), (date(2026, 3, 2), "0 days left", "due_soon")],
)
def test_case_header_counts_days_in_the_business_calendar_when_utc_is_a_day_ahead(
    officer, due_on, text, state
):
    """19:00 Pacific on 2 March is 3 March in UTC: the days counted and the colour agree, in Pacific time."""
    case = make_case()
    PrivacyRequest.objects.filter(pk=case.pk).update(due_on=due_on)
    with time_machine.travel(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), tick=False):
        header = case_page.case_header(PrivacyRequest.objects.select_related("subject").get(pk=case.pk))
    assert (header.due_text, header.due_state) == (text, state)


@pytest.mark.django_db
def test_case_actions_are_grouped_by_stage_in_a_side_panel_outside_the_form(client, officer):
    client.force_login(officer)
    case = make_case(request_type=RequestType.ERASURE)
    page = client.get(f"{CHANGELIST}{case.pk}/change/").content.decode()
    form = page.split("<form")[1].split("</form>")[0]
    assert "/act/" not in form  # no workflow button inside (or squeezing) the case's fieldsets
    panel = page.split('id="case-actions"')[1].split("</nav>")[0]
    stages = re.findall(r'data-stage="([^"]+)"', panel)
    assert stages == [s for s in case_page.STAGES if s in stages] and {"Identity", "Case", "Close"} <= set(
        stages
    )
    identity = panel.split('data-stage="Identity"')[1].split("</ul>")[0]
    assert "Record manual verification" in identity and "Deny with reason" not in identity
    assert 'class="case-workspace"' in page and "{% block case_panels %}" not in page


@pytest.mark.django_db
def test_case_list_shows_subject_and_requester_and_finds_both_by_email(client, officer):
    client.force_login(officer)
    own = make_case(subject_email="Owner@Example.com")
    agent = make_case(requester_email="Agent@Example.com", requester_name="Agent", requester_kind="agent")
    page = client.get(CHANGELIST).content.decode()
    assert "owner@example.com" in page.lower() and "agent@example.com" in page.lower()
    found = client.get(CHANGELIST, {"q": "  agent@EXAMPLE.com "}).content.decode()
    assert str(agent.reference)[:8] in found and str(own.reference)[:8] not in found
    found = client.get(CHANGELIST, {"q": "OWNER@example.COM"}).content.decode()
    assert str(own.reference)[:8] in found and str(agent.reference)[:8] not in found


@pytest.mark.django_db
def test_officer_intake_form_speaks_to_the_officer_and_has_no_spam_trap(client, officer):
    client.force_login(officer)
    page = client.get(f"{CHANGELIST}intake/").content.decode()
    assert 'name="website"' not in page and "Leave this field empty" not in page
    assert "Where do you live?" not in page and "What would you like us to do?" not in page
    assert "Subject&#x27;s email address" in page or "Subject's email address" in page
    assert "Received by" in page and "Regime" in page
    assert "Log a request received by email, phone or mail" in page


@pytest.mark.django_db
def test_due_dates_in_the_case_list_never_wrap_mid_date(client, officer):
    client.force_login(officer)
    make_case()
    page = client.get(CHANGELIST).content.decode()
    assert "border-radius:3px;white-space:nowrap" in page
