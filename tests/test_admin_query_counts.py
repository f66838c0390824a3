"""Every admin changelist costs the same number of queries for N rows as for 3N (no N+1 anywhere).

One test for the whole admin site: it walks `admin.site._registry`, so a model registered tomorrow
is either covered (a maker below) or consciously skipped (SKIPPED, with the reason). Rows are made with
the suite's existing factories and the services, like real rows are; the few rows no service writes
(runs, journal, DRP agents) are created the way the apps' own tests make them. This is the only
changelist query-count test: the per-app copies were folded into it.
"""

import itertools
import uuid
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connectors import demo as connectors_demo
from connectors.datamap import datamap_generate
from connectors.models import ErasureJournal, SystemRun
from connectors.services import connection_save, dataset_import
from consent.services import consent_import_csv, suppression_add
from disclosures import services as disclosure_services
from inventory.models import System
from privacycenter.models import DrpAgent, DrpRequest
from retention.services import erase_subject, legal_hold_place
from tests.consent.factories import add_consent_records, grant, published_policy, withdraw
from tests.disclosures.factories import MarketingPartnerFactory, bulk_subjects, log
from tests.factories import DataSubjectFactory, ThirdPartyFactory, make_full_subject
from tests.inventory.factories import make_user
from tests.notices.factories import enqueue_ack, make_breach
from tests.requests_app.factories import make_case
from tests.retention import factories as retention_factories
from tests.retention.factories import sweep

N = 2
_seq = itertools.count(1)


def _subject() -> None:
    DataSubjectFactory()


def _full_subject() -> None:
    make_full_subject()  # one row in every held-record model


def _consent() -> None:
    grant(DataSubjectFactory())


def _consent_history() -> None:
    """A grant, a withdrawal and an expired consent: ledger, state and a re-consent request (as the consent admin test did)."""
    subject = DataSubjectFactory()
    add_consent_records(subject)
    withdraw(subject, "marketing_email")


def _policy_version() -> None:
    published_policy()


def _consent_import() -> None:
    n = next(_seq)
    consent_import_csv(
        content=f"email,purpose,action,at,channel,name\nimport{n}@example.com,surveys,grant,2021-03-04,web_form,\n".encode(),
        file_name=f"list{n}.csv",
        actor="test",
    )


def _suppression() -> None:
    suppression_add(email=f"suppressed{next(_seq)}@example.com", actor="test")


def _erasure() -> None:
    """A held, then erased, subject: a legal hold, a certificate and its journal (as the retention admin test did)."""
    subject = retention_factories.subject()
    retention_factories.activity(subject, retention_factories.ago(days=900))
    legal_hold_place(subject_id=subject.pk, category="contact", reason="Dispute", owner="Legal")
    erase_subject(subject_id=subject.pk, reason="Request", case_reference=f"c{next(_seq)}")


def _notice() -> None:
    enqueue_ack(DataSubjectFactory(), key=f"query-counts:{next(_seq)}")


def _disclosure_batch() -> None:
    """A batch of a few subjects, as the disclosures admin test logged them."""
    log(bulk_subjects(3), MarketingPartnerFactory(), "email", "telephone_number")


def _disclosure_export() -> None:
    disclosure_services.export_request(year=2025, actor="test")  # queued; the build runs after commit


def _disclosure_notice() -> None:
    disclosure_services.notice_1798_83_deliver(subject_id=DataSubjectFactory().pk, year=2025)


def _correction() -> None:
    """A customer told one thing, then a share is found for that year: a cure with its recipient."""
    subject = DataSubjectFactory()
    disclosure_services.notice_1798_83_deliver(subject_id=subject.pk, year=2025)
    log(subject, MarketingPartnerFactory(), "email")
    disclosure_services.correction_open(year=2025, reason="Missed share", actor="test")


def _system() -> System:
    n = next(_seq)
    return System.objects.create(code=f"crm{n}", name=f"CRM {n}", kind="external", owner="Sales")


def _connection() -> None:
    connection_save(system=_system(), kind="sql", url="postgresql://crm:secret@db.example/crm", actor="test")


def _dataset() -> None:
    system = _system()  # a dataset's fides_key belongs to one system: one key per system
    text = connectors_demo.dataset_text().replace("demo_crm", f"demo_crm_{system.code}")
    dataset_import(system=system, text=text, actor="test")


def _system_run() -> SystemRun:
    """A finished run (the runner writes these; the connectors admin test makes them the same way)."""
    return SystemRun.objects.create(
        case_id=1, system=_system(), action="erasure", status="failed", error="X: y"
    )


def _erasure_journal() -> None:
    """What connectors.services.erasure.journal bulk-creates before an external delete."""
    run = _system_run()
    ErasureJournal.objects.create(
        system=run.system, run=run, dataset="crm", collection="customers", strategy="delete",
        keys={"id": [1, 2]}, row_count=2,
    )  # fmt: skip


def _data_map() -> None:
    datamap_generate(actor="test")


def _drp_agent() -> DrpAgent:
    """Officers register agents one by one (the DRP tests make them the same way)."""
    n = next(_seq)
    return DrpAgent.objects.create(
        agent_id=f"AGENT_{n}", name=f"Agent {n}", contact_email="drp@agent.example", verify_key="a2V5"
    )


def _drp_request() -> None:
    DrpRequest.objects.create(
        request_id=uuid.uuid4(),
        agent=_drp_agent(),
        case=make_case(),
        exercise="sar",
        received_at=timezone.now(),
    )


def _user() -> None:
    make_user(f"user{next(_seq)}")


def _third_party() -> None:
    ThirdPartyFactory()


def _case() -> None:
    make_case()


def _breach() -> None:
    make_breach()


def _sweep() -> None:
    sweep()


MAKERS: dict[str, Callable[[], None]] = {
    "audit.AuditEvent": _subject,  # every service call records one
    "auth.User": _user,
    "connectors.Connection": _connection,
    "connectors.DataMapSnapshot": _data_map,
    "connectors.Dataset": _dataset,
    "connectors.ErasureJournal": _erasure_journal,
    "connectors.SystemRun": _system_run,
    "consent.ConsentEvent": _consent_history,
    "consent.ConsentState": _consent,
    "consent.ConsentImport": _consent_import,
    "consent.PolicyVersion": _policy_version,
    "consent.ReconsentRequest": _consent_history,
    "consent.SuppressedAddress": _suppression,
    "disclosures.CorrectionRecipient": _correction,
    "disclosures.DisclosureBatch": _disclosure_batch,
    "disclosures.DisclosureEvent": _disclosure_batch,
    "disclosures.DisclosureExport": _disclosure_export,
    "disclosures.DisclosureNoticeRequest": _disclosure_notice,
    "disclosures.NoticeCorrection": _correction,
    "inventory.DataSubject": _subject,
    "inventory.ThirdParty": _third_party,
    "inventory.ActivityEvent": _full_subject,
    "inventory.CompanyAffiliation": _full_subject,
    "inventory.ContactPoint": _full_subject,
    "inventory.MarketingPreference": _full_subject,
    "inventory.SurveyResponse": _full_subject,
    "inventory.UserAccount": _full_subject,
    "notices.Breach": _breach,
    "notices.Notice": _notice,
    "privacycenter.DrpAgent": _drp_agent,
    "privacycenter.DrpRequest": _drp_request,
    "requests_app.CaseEvent": _case,
    "requests_app.PrivacyRequest": _case,
    "retention.ErasureCertificate": _erasure,
    "retention.ErasureJournal": _erasure,
    "retention.LegalHold": _erasure,
    "retention.SweepRun": _sweep,
}

_SEEDED = "seeded reference rows (a fixed set from migrations), no factory makes more"
_THIRD_PARTY_APP = "a third-party app's admin (not our code)"
SKIPPED: dict[str, str] = {
    "auth.Group": _SEEDED + " (the roles)",
    "authtoken.TokenProxy": _THIRD_PARTY_APP,
    "axes.AccessAttempt": _THIRD_PARTY_APP,
    "axes.AccessFailureLog": _THIRD_PARTY_APP,
    "axes.AccessLog": _THIRD_PARTY_APP,
    "django_celery_beat.ClockedSchedule": _THIRD_PARTY_APP,
    "django_celery_beat.CrontabSchedule": _THIRD_PARTY_APP,
    "django_celery_beat.IntervalSchedule": _THIRD_PARTY_APP,
    "django_celery_beat.PeriodicTask": _THIRD_PARTY_APP,
    "django_celery_beat.SolarSchedule": _THIRD_PARTY_APP,
    "otp_static.StaticDevice": _THIRD_PARTY_APP,
    "otp_totp.TOTPDevice": _THIRD_PARTY_APP,
    "consent.Purpose": _SEEDED,
    "disclosures.CategoryMapping": _SEEDED,
    "disclosures.DisclosureSettings": "a single settings row",
    "inventory.DataCategory": _SEEDED,
    "inventory.Source": _SEEDED,
    "inventory.System": _SEEDED,
    "notices.NoticeTemplate": _SEEDED + " (one per notice kind)",
    "retention.RetentionSchedule": _SEEDED + " (unique per category)",
}


def _registered() -> dict[str, type]:
    return {model._meta.label: model for model in admin.site._registry}


def test_every_registered_model_is_measured_or_skipped_with_a_reason():
    registered = set(_registered())
    assert not set(MAKERS) & set(SKIPPED)
    assert registered == set(MAKERS) | set(SKIPPED), (
        f"decide for: {sorted(registered - set(MAKERS) - set(SKIPPED))}; "
        f"gone: {sorted((set(MAKERS) | set(SKIPPED)) - registered)}"
    )


def _changelist_queries(client, model) -> int:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(MAKERS))
def test_the_changelist_costs_the_same_queries_for_n_and_3n_rows(label, client, django_user_model):
    model = _registered()[label]
    make = MAKERS[label]
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x" * 16))
    before = model._default_manager.count()
    for _ in range(N):
        make()
    rows_n = model._default_manager.count() - before
    _changelist_queries(client, model)  # warm-up: per-process caches (filter choices, content types)
    at_n = _changelist_queries(client, model)
    for _ in range(2 * N):
        make()
    made = model._default_manager.count() - before
    assert made >= 3 * rows_n > 0, "the maker did not make rows of this model"
    at_3n = _changelist_queries(client, model)
    assert at_3n == at_n, f"{label}: {at_n} queries for {rows_n} rows, {at_3n} for three times as many"
