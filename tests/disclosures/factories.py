"""Disclosures test helpers: recipients of each kind, fast subjects, and logging shortcuts."""

import datetime as dt
import uuid

import factory

from disclosures import services
from disclosures.models import Purpose
from inventory import models as inv
from tests.factories import DataSubjectFactory, ThirdPartyFactory

UTC = dt.UTC


def at(year: int, month: int = 6, day: int = 15, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


class MarketingPartnerFactory(ThirdPartyFactory):
    kind = inv.ThirdParty.Kind.MARKETING_PARTNER
    nature_of_business = "Catalogue retailer"
    product_examples = "Office furniture and supplies catalogues"


class SameBrandAffiliateFactory(ThirdPartyFactory):
    legal_name = factory.Sequence(lambda n: f"SYSPRO Affiliate {n} LLC")
    kind = inv.ThirdParty.Kind.AFFILIATE
    same_brand_affiliate = True
    nature_of_business = "ERP software (same brand)"


class ServiceProviderFactory(ThirdPartyFactory):
    legal_name = factory.Sequence(lambda n: f"Payments Processor {n} Inc.")
    kind = inv.ThirdParty.Kind.SERVICE_PROVIDER
    nature_of_business = "Payment processing"


class AuthorityFactory(ThirdPartyFactory):
    legal_name = factory.Sequence(lambda n: f"County Court {n}")
    kind = inv.ThirdParty.Kind.AUTHORITY
    nature_of_business = "Court"


def customers(n: int = 1, **fields) -> list[inv.DataSubject]:
    """Subjects through the real service (keys and all)."""
    return [DataSubjectFactory(**fields) for _ in range(n)]


def bulk_subjects(n: int) -> list[int]:
    """Many bare subjects quickly (no data keys: the disclosure log never needs them)."""
    rows = inv.DataSubject.objects.bulk_create(
        [
            inv.DataSubject(public_id=uuid.uuid4(), name="", email="", country="US", region="CA")
            for _ in range(n)
        ],
        batch_size=1000,
    )
    if rows and rows[0].pk is None:  # backends that don't return ids
        return list(inv.DataSubject.objects.order_by("-pk").values_list("pk", flat=True)[:n])
    return [r.pk for r in rows]


def log(
    subjects,
    third_party,
    *categories: str,
    purpose: str = Purpose.DIRECT_MARKETING,
    when: dt.datetime | None = None,
    **kwargs,
):
    """Log one batch (statutory category codes) and return the batch."""
    ids = [
        s if isinstance(s, int) else s.pk
        for s in (subjects if isinstance(subjects, list | tuple) else [subjects])
    ]
    return services.disclosure_batch_record(
        third_party_id=third_party.pk,
        purpose=purpose,
        subject_ids=ids,
        statutory_categories=categories,
        disclosed_at=when or at(2025),
        actor="test",
        **kwargs,
    ).batch
