"""The demo CRM that `make run` installs: a demo access request returns its rows, an erasure erases them."""

import pytest
from django.core.management import call_command

from connectors.models import SystemRun
from connectors.services import case_systems_plan, system_run_execute
from inventory.models import DataSubject

from .conftest import count


@pytest.mark.django_db
def test_demo_crm_is_filled_for_the_demo_subjects_and_answers_requests(tmp_path):
    for n in range(12):  # demo subjects (seed_demo's shape: name, email, phone)
        DataSubject.objects.create(name=f"Demo Person {n}", email=f" Demo{n}@Example.com", phone=f"+1555{n}")
    path = tmp_path / "crm.sqlite3"
    call_command("demo_crm", "--path", str(path), "--subjects", "10")
    url = f"sqlite:///{path}"
    assert count(url, "customers") == 10
    subject = DataSubject.objects.exclude(email_normalized="").order_by("id").first()
    [access] = case_systems_plan(case_id=1, action="access", identities={"email": [subject.email]})
    access = system_run_execute(run_id=access.pk)
    assert access.status == "done" and access.counts["order_lines"] == 4
    [erasure] = case_systems_plan(case_id=2, action="erasure", identities={"email": [subject.email]})
    assert system_run_execute(run_id=erasure.pk).status == "done"
    assert count(url, "customers", "email = :e", e=subject.email_normalized) == 0
    assert SystemRun.objects.filter(status="done").count() == 2
