"""Email lookups ignore case and surrounding white space, on the subject and on further contact points."""

import pytest

from inventory.models import ContactPoint
from inventory.selectors import subject_find_by_email, subject_search
from inventory.services import record_create
from tests.factories import DataSubjectFactory


@pytest.mark.django_db
def test_lookup_by_primary_email_ignores_case_and_whitespace():
    subject = DataSubjectFactory(email="  Jane.Doe@Example.COM ")
    assert subject_find_by_email("jane.doe@example.com") == subject
    assert subject_find_by_email("\tJANE.DOE@example.com  ") == subject
    assert subject_find_by_email("jane.doe@example.org") is None


@pytest.mark.django_db
def test_lookup_by_secondary_email_contact_point():
    subject = DataSubjectFactory(email="primary@example.com")
    record_create(
        model=ContactPoint, subject=subject, values={"kind": "email", "value": " Work@Corp.Example "}
    )
    assert subject_find_by_email("work@corp.example") == subject
    assert list(subject_search("WORK@corp.example")) == [subject]


@pytest.mark.django_db
def test_blank_email_finds_nobody():
    DataSubjectFactory(email="")
    assert subject_find_by_email("   ") is None


def test_email_lookup_column_is_indexed():
    from inventory.models import DataSubject

    assert DataSubject._meta.get_field("email_normalized").db_index
    assert ContactPoint._meta.get_field("value_normalized").db_index
