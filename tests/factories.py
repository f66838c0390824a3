"""factory_boy factories. Subjects and records go through the services, so keys and seals are real."""

import datetime as dt

import factory
from django.utils import timezone

from inventory import models as inv
from inventory.services import record_create, subject_create


class DataSubjectFactory(factory.Factory):
    class Meta:
        model = dict

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1 415 555 {n:04d}")
    postal_address = factory.Faker("address")
    company = factory.Faker("company")
    role = "Buyer"
    country = "US"
    region = "CA"
    date_of_birth = dt.date(1980, 5, 17)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return subject_create(**kwargs)


class ThirdPartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = inv.ThirdParty

    legal_name = factory.Sequence(lambda n: f"Partner {n} Inc.")
    kind = inv.ThirdParty.Kind.MARKETING_PARTNER
    street_address = factory.Sequence(lambda n: f"{n} Market Street")
    city = "San Francisco"
    region = "CA"
    postal_code = "94105"
    country = "US"
    nature_of_business = "Business software reseller"


def years_ago(years: int) -> dt.date:
    """Today's date `years` years back; on 29 February, the 28th when that year has no 29th (a plain
    date.replace raises then, which made tests fail one day in four years)."""
    today = dt.date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _source(code: str) -> inv.Source:
    return inv.Source.objects.get(code=code)


def make_full_subject(**subject_fields) -> inv.DataSubject:
    """A subject with at least one record in every registered category (used across apps' tests)."""
    subject = DataSubjectFactory(**subject_fields)
    now = timezone.now()
    system = inv.System.objects.get(code="privacyops")
    common = {"system": system, "collected_at": now}
    record_create(
        model=inv.ContactPoint,
        subject=subject,
        values={**common, "kind": "email", "value": f"alt.{subject.email}", "source": _source("website")},
    )
    record_create(
        model=inv.UserAccount,
        subject=subject,
        values={**common, "username": f"user{subject.pk}", "payment_method_reference": f"tok_{subject.pk}_visa",
                "payment_brand": "visa", "source": _source("website")},
    )  # fmt: skip
    record_create(
        model=inv.CompanyAffiliation,
        subject=subject,
        values={
            **common,
            "company_name": "Acme Corp",
            "job_title": "CFO",
            "source": _source("third_party_list"),
        },
    )
    record_create(
        model=inv.MarketingPreference,
        subject=subject,
        values={**common, "channel": "email", "topics": ["erp"], "source": _source("website")},
    )
    record_create(
        model=inv.SurveyResponse,
        subject=subject,
        values={**common, "survey": "ERP readiness", "question": "Biggest pain?",
                "answer": f"Inventory counts, says {subject.name}", "source": _source("widgets")},
    )  # fmt: skip
    record_create(
        model=inv.ActivityEvent,
        subject=subject,
        values={**common, "kind": "page_view", "target": "/pricing", "ip_address": "203.0.113.7",
                "cookie_id": f"ck-{subject.pk}", "source": _source("cookies")},
    )  # fmt: skip
    return subject
