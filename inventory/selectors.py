"""Reads across the inventory, driven by the registry (never by model names)."""

from dataclasses import dataclass

from django.db import models
from django.db.models import Q

from .models import ContactPoint, DataCategory, DataSubject, normalize_email
from .registry import PersonalData, registry


@dataclass(frozen=True)
class SubjectRecords:
    entry: PersonalData
    records: list[models.Model]


def subject_find_by_email(email: str) -> DataSubject | None:
    """Case- and white-space-insensitive; looks at the primary address and further email contact points."""
    normalized = normalize_email(email)
    if not normalized:
        return None
    subject = DataSubject.objects.filter(email_normalized=normalized).order_by("pk").first()
    if subject is not None:
        return subject
    point = (
        ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, value_normalized=normalized)
        .select_related("subject")
        .order_by("pk")
        .first()
    )
    return point.subject if point else None


def subject_search(term: str) -> models.QuerySet[DataSubject]:
    term = term.strip()
    if "@" in term:
        normalized = normalize_email(term)
        return DataSubject.objects.filter(
            Q(email_normalized=normalized)
            | Q(pk__in=ContactPoint.objects.filter(value_normalized=normalized).values("subject_id"))
        )
    return DataSubject.objects.filter(name__icontains=term)


def records_for_subject(subject: DataSubject | int) -> list[SubjectRecords]:
    """Every registered record of one subject: one indexed query per registered model."""
    subject_id = subject if isinstance(subject, int) else subject.pk
    return [SubjectRecords(entry, list(entry.for_subject(subject_id))) for entry in registry]


def records_for_subject_by_category(subject: DataSubject | int) -> dict[str, list[SubjectRecords]]:
    grouped: dict[str, list[SubjectRecords]] = {}
    for found in records_for_subject(subject):
        grouped.setdefault(found.entry.category, []).append(found)
    return grouped


def records_in_category(code: str) -> list[models.QuerySet]:
    """One queryset per registered model holding data of this category."""
    return [entry.all() for entry in registry.for_category(code)]


def categories_in_use() -> models.QuerySet[DataCategory]:
    return DataCategory.objects.filter(code__in={e.category for e in registry})
