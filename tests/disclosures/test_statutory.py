"""The 27 statutory categories are a fixed, cited enumeration, and every inventory category is mapped."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from disclosures import reference
from disclosures.models import CategoryMapping
from disclosures.services import categories_resolve
from disclosures.statutory import (
    ALL_MASK,
    BY_CODE,
    SAME_BRAND_REPORTABLE_MASK,
    STATUTORY_CATEGORIES,
    StatutoryCategoryChoice,
    categories_of,
    codes_of,
    mask_of,
    reportable_mask,
)
from inventory.models import DataCategory

CLAUSES = [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "AA"]


def _regulations_list() -> list[tuple[str, str]]:
    """The (clause, label) list of docs/regulations.md's "The 27 categories" section."""
    text = (Path(settings.BASE_DIR) / "docs" / "regulations.md").read_text(encoding="utf-8")
    section = text.split("### The 27 categories", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^- \(([A-Z]{1,2})\) (.+)$", section, flags=re.MULTILINE)


def test_there_are_exactly_27_statutory_categories_in_statutory_order():
    assert len(STATUTORY_CATEGORIES) == 27
    assert [c.bit for c in STATUTORY_CATEGORIES] == list(range(27))
    assert [c.clause for c in STATUTORY_CATEGORIES] == CLAUSES
    assert len({c.code for c in STATUTORY_CATEGORIES}) == 27
    assert len(StatutoryCategoryChoice.choices) == 27
    assert all(c.citation.startswith("Cal. Civ. Code §1798.83(e)(6)(A)(") for c in STATUTORY_CATEGORIES)


def test_labels_are_copied_exactly_from_regulations_md():
    documented = _regulations_list()
    assert [(c.clause, c.label) for c in STATUTORY_CATEGORIES] == documented


def test_masks_round_trip_and_unknown_codes_are_refused():
    assert mask_of(c.code for c in STATUTORY_CATEGORIES) == ALL_MASK == 2**27 - 1
    assert codes_of(mask_of(["payment_history", "email"])) == ["email", "payment_history"]
    assert [c.code for c in categories_of(BY_CODE["ssn"].flag)] == ["ssn"]
    with pytest.raises(ValidationError):
        mask_of(["email", "shoe_size"])


def test_same_brand_affiliates_report_only_the_sensitive_categories():
    sensitive = {c.code for c in STATUTORY_CATEGORIES if c.same_brand_reportable}
    assert {"telephone_number", "ssn", "credit_card_number", "medical_condition", "race"} <= sensitive
    assert {"name_and_address", "email", "kind_of_product_purchased"}.isdisjoint(sensitive)
    mixed = mask_of(["email", "telephone_number"])
    assert codes_of(reportable_mask(mixed, same_brand_affiliate=True)) == ["telephone_number"]
    assert codes_of(reportable_mask(mixed, same_brand_affiliate=False)) == ["email", "telephone_number"]
    assert reportable_mask(mask_of(["email"]), same_brand_affiliate=True) == 0
    assert SAME_BRAND_REPORTABLE_MASK & ~ALL_MASK == 0


@pytest.mark.django_db
def test_every_inventory_data_category_has_a_seeded_mapping():
    mapped = set(CategoryMapping.objects.values_list("data_category__code", flat=True))
    assert set(DataCategory.objects.values_list("code", flat=True)) <= mapped
    assert CategoryMapping.objects.count() == len(reference.CATEGORY_MAPPING)
    assert all(not code or code in BY_CODE for _c, _f, code, _w in reference.CATEGORY_MAPPING)


@pytest.mark.django_db
def test_mapping_resolves_fields_to_their_statutory_categories():
    assert codes_of(categories_resolve(data={"contact": ["name", "postal_address"]})[0]) == [
        "name_and_address"
    ]
    assert codes_of(categories_resolve(data={"contact": ["email"]})[0]) == ["email"]
    assert codes_of(categories_resolve(data={"contact": ["phone"]})[0]) == ["telephone_number"]
    assert codes_of(categories_resolve(data={"account": ["credit_card", "payment_history"]})[0]) == [
        "credit_card_number",
        "payment_history",
    ]
    assert categories_resolve(data={"activity": ["ip_address"]})[0] == 0  # known, none of the 27


@pytest.mark.django_db
def test_a_whole_category_counts_as_everything_its_fields_map_to():
    whole = codes_of(categories_resolve(data={"contact": []})[0])
    assert whole == ["name_and_address", "email", "age_or_date_of_birth", "telephone_number"]


@pytest.mark.django_db
def test_unknown_data_categories_and_fields_are_refused():
    with pytest.raises(ValidationError, match="Unknown field 'shoe_size'"):
        categories_resolve(data={"contact": ["shoe_size"]})
    with pytest.raises(ValidationError, match="Unknown data category"):
        categories_resolve(data={"health": []})
    with pytest.raises(ValidationError, match="Say what was disclosed"):
        categories_resolve()


@pytest.mark.django_db
def test_an_officer_edit_of_the_mapping_changes_what_new_disclosures_count_as():
    from inventory.models import DataCategory as DC

    CategoryMapping.objects.create(
        data_category=DC.objects.get(code="survey"), field="answers", statutory_category="education"
    )
    assert codes_of(categories_resolve(data={"survey": ["answers"]})[0]) == ["education"]
