"""The officers' admin: changelist colours, filters and a query count that does not grow; workflow
buttons and bulk actions go through services."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from requests_app import deadlines
from requests_app.models import DenialBasis, PrivacyRequest, Regime, RequestType, Status
from tests.factories import DataSubjectFactory

from .factories import make_case

CHANGELIST = "/admin/requests_app/privacyrequest/"


def _bulk_cases(n: int, officer) -> None:
    """n varied cases (statuses, regimes, assignees, duplicates, stuck flags) inserted directly."""
    rng = random.Random(n)
    subjects = [DataSubjectFactory() for _ in range(3)]
    now = timezone.now()
    rows = []
    for i in range(n):
        received = now - timedelta(days=rng.randint(0, 80))
        status = rng.choice(Status.values)
        rows.append(
            PrivacyRequest(
                type=rng.choice(RequestType.values),
                regime=rng.choice(Regime.values),
                channel="email",
                status=status,
                status_changed_at=received,
                subject=subjects[i % 3],
                requester_email=f"bulk{i}@example.com",
                assignee=officer if i % 2 else None,
                received_at=received,
                first_due_on=(received + timedelta(days=30)).date(),
                due_on=(received + timedelta(days=30)).date() if i % 7 else None,
                extended_at=received if i % 5 == 0 else None,
                extension_reason="Complex" if i % 5 == 0 else "",
                stuck_reason="worker lost" if i % 11 == 0 else "",
                denial_basis=DenialBasis.OTHER if status == Status.DENIED else "",
            )
        )
    created = PrivacyRequest.objects.bulk_create(rows)
    for a, b in zip(created[1::4], created[::4], strict=False):
        PrivacyRequest.objects.filter(pk=a.pk).update(possible_duplicate_of=b)


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?due=overdue",
        "?status__exact=in_progress",
        "?flag=stuck",
        "?type__exact=erasure&regime__exact=ccpa",
    ],
)
def test_changelist_query_count_is_the_same_at_10_and_200_cases(client, officer, query):
    client.force_login(officer)
    _bulk_cases(10, officer)
    at_10 = _count(client, CHANGELIST + query)
    _bulk_cases(190, officer)
    assert PrivacyRequest.objects.count() == 200
    at_200 = _count(client, CHANGELIST + query)
    assert at_10 == at_200


@pytest.mark.django_db
def test_changelist_shows_due_colours_and_filters(client, officer):
    client.force_login(officer)
    case = make_case(request_type=RequestType.ERASURE)
    PrivacyRequest.objects.filter(pk=case.pk).update(due_on=deadlines.business_today() - timedelta(days=1))
    page = client.get(CHANGELIST).content.decode()
    assert "#b00020" in page and "Overdue" in page
    assert str(case.reference)[:8] in client.get(CHANGELIST + "?due=overdue").content.decode()
    assert str(case.reference)[:8] not in client.get(CHANGELIST + "?due=week").content.decode()
    assert str(case.reference)[:8] in client.get(CHANGELIST + f"?q={case.reference}").content.decode()
    assert str(case.reference)[:8] in client.get(CHANGELIST + f"?q={case.subject.email}").content.decode()


@pytest.mark.django_db
def test_case_page_shows_the_timeline_and_workflow_buttons(client, officer):
    client.force_login(officer)
    case = make_case(request_type=RequestType.ERASURE)
    page = client.get(f"{CHANGELIST}{case.pk}/change/").content.decode()
    assert "Timeline" in page
    assert "Verification link sent" in page
    assert "Deny with reason" in page and "Record manual verification" in page
    assert ">Fulfil<" not in page.split('id="case-actions"')[1].split("</nav>")[0]  # not verified yet
    assert 'name="_save"' not in page  # read-only: changes go through the buttons
    assert f"/admin/inventory/datasubject/{case.subject_id}/change/" in page


@pytest.mark.django_db
def test_workflow_button_runs_the_service_and_shows_its_error(client, officer, outbox):
    client.force_login(officer)
    case = make_case(request_type=RequestType.ERASURE)
    url = f"{CHANGELIST}{case.pk}/act/deny/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"basis": DenialBasis.NO_DATA, "reason": "We hold nothing about you"})
    assert response.status_code == 302
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.DENIED
    assert "request_denied" in outbox.kinds()
    again = client.post(f"{CHANGELIST}{case.pk}/act/extend/", {"reason": "busy"}, follow=True)
    assert "can&#x27;t be extended" in again.content.decode() or "can't be extended" in again.content.decode()


@pytest.mark.django_db
def test_bulk_actions_assign_and_deny_with_reason(client, officer, outbox):
    client.force_login(officer)
    a = make_case(request_type=RequestType.ERASURE)
    b = make_case(request_type=RequestType.ERASURE)
    ids = [str(a.pk), str(b.pk)]
    client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": ids})
    assert set(PrivacyRequest.objects.values_list("assignee", flat=True)) == {officer.pk}
    form = client.post(CHANGELIST, {"action": "deny_selected", "_selected_action": ids})
    assert form.status_code == 200 and b"Deny with reason" in form.content
    client.post(
        CHANGELIST,
        {
            "action": "deny_selected",
            "_selected_action": ids,
            "apply": "1",
            "basis": "other",
            "reason": "Out of scope",
        },
    )
    assert set(PrivacyRequest.objects.values_list("status", flat=True)) == {Status.DENIED}


@pytest.mark.django_db
def test_officers_log_phone_requests_through_the_intake_page(client, officer, outbox):
    client.force_login(officer)
    response = client.post(
        f"{CHANGELIST}intake/",
        {
            "request_type": "opt_out",
            "regime": "other",
            "channel": "phone",
            "subject_email": "caller@example.com",
            "requester_kind": "subject",
            "received_at_designated_address": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    case = PrivacyRequest.objects.get()
    assert case.channel == "phone"


@pytest.mark.django_db
def test_analysts_cannot_act_on_cases(client, django_user_model):
    from django.contrib.auth.models import Group

    analyst = django_user_model.objects.create_user(username="ana", password="x" * 16, is_staff=True)
    analyst.groups.add(Group.objects.get(name="Analyst"))
    client.force_login(analyst)
    case = make_case(request_type=RequestType.ERASURE)
    assert client.get(CHANGELIST).status_code == 200
    assert (
        client.post(f"{CHANGELIST}{case.pk}/act/deny/", {"basis": "other", "reason": "x"}).status_code == 403
    )
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.VERIFYING
