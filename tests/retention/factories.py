"""Retention test helpers: records with chosen timestamps, schedules through the service, one-call sweeps."""

import datetime as dt
import itertools

from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory import models as inv
from inventory.models import DataCategory
from inventory.services import record_create
from retention import services
from retention.models import RetentionSchedule, SweepRun
from tests.factories import DataSubjectFactory

_seq = itertools.count(1)


def subject(**fields) -> inv.DataSubject:
    return DataSubjectFactory(**fields)


def activity(owner: inv.DataSubject, collected_at: dt.datetime, **fields) -> inv.ActivityEvent:
    """Stored directly: activity rows hold nothing sealed, and tests need many of them."""
    n = next(_seq)
    return inv.ActivityEvent.objects.create(
        subject=owner,
        collected_at=collected_at,
        kind="page_view",
        target=f"/page/{n}",
        ip_address="203.0.113.9",
        cookie_id=f"ck-{n}",
        **fields,
    )


def marketing(owner: inv.DataSubject, collected_at: dt.datetime) -> inv.MarketingPreference:
    return inv.MarketingPreference.objects.create(subject=owner, collected_at=collected_at, channel="email")


def account(
    owner: inv.DataSubject,
    *,
    collected_at: dt.datetime,
    closed_at: dt.datetime | None = None,
    last_login_at: dt.datetime | None = None,
) -> inv.UserAccount:
    return record_create(
        model=inv.UserAccount,
        subject=owner,
        values={
            "username": f"user{next(_seq)}",
            "payment_method_reference": f"tok_{owner.pk}_visa",
            "collected_at": collected_at,
            "closed_at": closed_at,
            "last_login_at": last_login_at,
        },
    )


def survey(
    owner: inv.DataSubject, collected_at: dt.datetime, answer: str = "Inventory counts"
) -> inv.SurveyResponse:
    return record_create(
        model=inv.SurveyResponse,
        subject=owner,
        values={
            "survey": "ERP readiness",
            "question": "Biggest pain?",
            "answer": answer,
            "collected_at": collected_at,
        },
    )


def only_these_schedules() -> None:
    """Switch the seeded defaults off so a test controls exactly which schedules run."""
    RetentionSchedule.objects.update(active=False)


def activity_sweep_setup(settings, *, batch_rows: int | None = None, window_rows: int | None = None):
    """Only a 24-month activity schedule runs, with these batch and window sizes; returns a subject whose
    activity the test seeds (the set-up of most sweep-mechanics tests)."""
    if batch_rows is not None:
        settings.RETENTION_SWEEP_BATCH_ROWS = batch_rows
    if window_rows is not None:
        settings.RETENTION_SWEEP_WINDOW_ROWS = window_rows
    only_these_schedules()
    schedule("activity", months=24)
    return subject()


def schedule(category: str, *, months: int = 0, days: int = 0, **fields) -> RetentionSchedule:
    return services.retention_schedule_create(
        category=DataCategory.objects.get(code=category),
        period_months=months,
        period_days=days,
        legal_basis=fields.pop("legal_basis", "Test schedule"),
        citation=fields.pop("citation", "Policy §8"),
        **fields,
    )


def sweep(**kwargs) -> SweepRun:
    """A whole sweep in this process (the same services the Celery tasks call)."""
    run = services.sweep_request(dispatch=False, trigger=SweepRun.Trigger.COMMAND, **kwargs)
    return services.sweep_execute(run_id=run.pk)


def officer(username: str = "officer"):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
    return user


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)
