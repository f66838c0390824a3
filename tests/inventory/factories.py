"""Users in the three roles, and subjects with many records (for query-count tests)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from inventory import models as inv
from inventory.services import record_create
from tests.factories import make_full_subject

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, *, role: str | None = None, staff: bool = True, superuser: bool = False):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, is_staff=staff, is_superuser=superuser
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def add_records(subject: inv.DataSubject, copies: int) -> None:
    """`copies` more records in every held-record model, through the services (sealed like real ones)."""
    system = inv.System.objects.get(code="privacyops")
    source = inv.Source.objects.get(code="website")
    common = {"system": system, "source": source, "collected_at": timezone.now()}
    for n in range(copies):
        record_create(
            model=inv.ContactPoint,
            subject=subject,
            values={**common, "kind": "email", "value": f"extra{n}.{subject.pk}@example.com"},
        )
        record_create(
            model=inv.UserAccount,
            subject=subject,
            values={**common, "username": f"u{subject.pk}-{n}", "payment_method_reference": f"tok_{n}"},
        )
        record_create(
            model=inv.CompanyAffiliation, subject=subject, values={**common, "company_name": f"Co {n}"}
        )
        record_create(
            model=inv.MarketingPreference,
            subject=subject,
            values={**common, "channel": "email", "topics": ["erp", str(n)]},
        )
        record_create(
            model=inv.SurveyResponse,
            subject=subject,
            values={**common, "survey": "S", "question": "Q", "answer": f"answer {n}"},
        )
        record_create(
            model=inv.ActivityEvent,
            subject=subject,
            values={**common, "kind": "page_view", "target": f"/p{n}", "ip_address": "192.0.2.1"},
        )
    # fmt: skip


def full_subject_with_records(copies: int, **fields) -> inv.DataSubject:
    subject = make_full_subject(**fields)
    if copies > 1:
        add_records(subject, copies - 1)
    return subject
