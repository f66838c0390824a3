"""Every admin changelist costs the same number of queries for N rows as for 3N (no N+1 anywhere).

One test for the whole admin site: it walks `admin.site._registry`, so a model registered tomorrow
is either covered (a maker below) or consciously skipped (SKIPPED, with the reason). Rows are made with
the suite's existing factories, which go through the services like real rows do.
"""

import itertools
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.consent.factories import grant
from tests.disclosures.factories import log
from tests.factories import DataSubjectFactory, ThirdPartyFactory, make_full_subject
from tests.inventory.factories import make_user
from tests.notices.factories import enqueue_ack, make_breach
from tests.requests_app.factories import make_case
from tests.retention.factories import sweep

N = 2
_seq = itertools.count(1)


def _subject() -> None:
    DataSubjectFactory()


def _full_subject() -> None:
    make_full_subject()  # one row in every held-record model


def _consent() -> None:
    grant(DataSubjectFactory())


def _notice() -> None:
    enqueue_ack(DataSubjectFactory(), key=f"query-counts:{next(_seq)}")


def _disclosure() -> None:
    log(DataSubjectFactory(), ThirdPartyFactory(), "email")


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
    "consent.ConsentEvent": _consent,
    "consent.ConsentState": _consent,
    "disclosures.DisclosureBatch": _disclosure,
    "disclosures.DisclosureEvent": _disclosure,
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
    "requests_app.CaseEvent": _case,
    "requests_app.PrivacyRequest": _case,
    "retention.SweepRun": _sweep,
}

_SEEDED = "seeded reference rows (a fixed set from migrations), no factory makes more"
_NO_FACTORY = "no factory in the suite makes these rows yet; the app's own admin tests cover the screen"
_THIRD_PARTY_APP = "a third-party app's admin (not our code)"
SKIPPED: dict[str, str] = {
    "connectors.Connection": _NO_FACTORY + " (tests/connectors/test_admin.py)",
    "connectors.Dataset": _NO_FACTORY + " (tests/connectors/test_admin.py)",
    "connectors.SystemRun": _NO_FACTORY + " (tests/connectors/test_admin.py)",
    "connectors.ErasureJournal": _NO_FACTORY + " (tests/connectors/test_admin.py)",
    "connectors.DataMapSnapshot": _NO_FACTORY + " (tests/connectors/test_datamap.py)",
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
    "consent.PolicyVersion": _NO_FACTORY,
    "consent.ConsentImport": _NO_FACTORY,
    "consent.ReconsentRequest": _NO_FACTORY,
    "consent.SuppressedAddress": _NO_FACTORY,
    "disclosures.CategoryMapping": _SEEDED,
    "disclosures.DisclosureSettings": "a single settings row",
    "disclosures.CorrectionRecipient": _NO_FACTORY,
    "disclosures.DisclosureExport": _NO_FACTORY,
    "disclosures.DisclosureNoticeRequest": _NO_FACTORY,
    "disclosures.NoticeCorrection": _NO_FACTORY,
    "inventory.DataCategory": _SEEDED,
    "inventory.Source": _SEEDED,
    "inventory.System": _SEEDED,
    "notices.NoticeTemplate": _SEEDED + " (one per notice kind)",
    "retention.ErasureCertificate": _NO_FACTORY,
    "retention.ErasureJournal": _NO_FACTORY,
    "retention.LegalHold": _NO_FACTORY,
    "retention.RetentionSchedule": _SEEDED + " (unique per category)",
    # Registered by officers one by one (a handful of agents); the privacy center's DRP tests cover them.
    "privacycenter.DrpAgent": _NO_FACTORY,
    "privacycenter.DrpRequest": _NO_FACTORY,
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
