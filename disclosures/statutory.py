"""The 27 statutory categories of personal information of Cal. Civ. Code §1798.83(e)(6)(A).

A fixed enumeration, not a table: the statute defines it, nobody edits it in the admin. Labels are
copied exactly from docs/regulations.md (row "Cal. 1798.83 categories", source §1798.83(e)(6)(A));
lists derived from them count as them (§1798.83(e)(6)(B)), so a derived list is logged under the
categories it was derived from.

Each category has a fixed bit position (its order in the statute, clause (A) = bit 0 ... (AA) = bit 26).
The disclosure log stores the categories of one disclosure as a 27-bit integer: 4 bytes per row,
`bit_or()` unions a customer's disclosures to one recipient in SQL, and the export expands the bits
into (customer, recipient, category) rows inside PostgreSQL with one join, so `COPY` streams them.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models


@dataclass(frozen=True)
class StatutoryCategory:
    bit: int
    code: str
    label: str  # exactly as docs/regulations.md
    clause: str  # §1798.83(e)(6)(A)(clause)
    # §1798.83(f): disclosures to same-brand affiliates must be reported only for these categories.
    same_brand_reportable: bool

    @property
    def flag(self) -> int:
        return 1 << self.bit

    @property
    def citation(self) -> str:
        return f"Cal. Civ. Code §1798.83(e)(6)(A)({self.clause})"


# (code, label exactly as docs/regulations.md, statutory clause, reportable for same-brand affiliates)
# The same-brand column follows §1798.83(f): affiliates sharing the brand are exempt unless the data
# corresponds to one of the categories the subdivision lists (children's number/age/gender, physical
# traits, race, religion, occupation, telephone, education, politics, health, financial identifiers,
# balances, payment history, creditworthiness). docs/regulations.md calls them "sensitive categories".
_ROWS = [
    ("name_and_address", "name and address", "A", False),
    ("email", "email", "B", False),
    ("age_or_date_of_birth", "age or date of birth", "C", False),
    ("names_of_children", "names of children", "D", False),
    ("addresses_of_children", "email or other addresses of children", "E", False),
    ("number_of_children", "number of children", "F", True),
    ("age_or_gender_of_children", "age or gender of children", "G", True),
    ("height", "height", "H", True),
    ("weight", "weight", "I", True),
    ("race", "race", "J", True),
    ("religion", "religion", "K", True),
    ("occupation", "occupation", "L", True),
    ("telephone_number", "telephone number", "M", True),
    ("education", "education", "N", True),
    ("political_party_affiliation", "political party affiliation", "O", True),
    ("medical_condition", "medical condition", "P", True),
    ("drugs_therapies_medical_products", "drugs, therapies, medical products or equipment used", "Q", True),
    ("kind_of_product_purchased", "kind of product purchased/leased/rented", "R", False),
    ("real_property_purchased", "real property purchased/leased/rented", "S", False),
    ("kind_of_service_provided", "kind of service provided", "T", False),
    ("ssn", "SSN", "U", True),
    ("bank_account_number", "bank account number", "V", True),
    ("credit_card_number", "credit card number", "W", True),
    ("debit_card_number", "debit card number", "X", True),
    ("account_or_card_balance", "bank/investment account, debit or credit card balance", "Y", True),
    ("payment_history", "payment history", "Z", True),
    ("creditworthiness_assets_income_liabilities", "creditworthiness, assets, income or liabilities", "AA", True),
]  # fmt: skip

STATUTORY_CATEGORIES: tuple[StatutoryCategory, ...] = tuple(
    StatutoryCategory(bit=i, code=code, label=label, clause=clause, same_brand_reportable=reportable)
    for i, (code, label, clause, reportable) in enumerate(_ROWS)
)
BY_CODE: dict[str, StatutoryCategory] = {c.code: c for c in STATUTORY_CATEGORIES}

ALL_MASK = (1 << len(STATUTORY_CATEGORIES)) - 1
SAME_BRAND_REPORTABLE_MASK = sum(c.flag for c in STATUTORY_CATEGORIES if c.same_brand_reportable)


class StatutoryCategoryChoice(models.TextChoices):
    """The same enumeration as model field choices (used by the DataCategory mapping)."""

    _ignore_ = ["c"]
    for c in STATUTORY_CATEGORIES:
        locals()[c.code.upper()] = (c.code, c.label)


def mask_of(codes: Iterable[str]) -> int:
    """Bitmask of statutory category codes; unknown codes are a validation error, not a silent drop."""
    mask = 0
    unknown = []
    for code in codes:
        category = BY_CODE.get(code)
        if category is None:
            unknown.append(code)
        else:
            mask |= category.flag
    if unknown:
        raise ValidationError(
            "Unknown §1798.83 statutory category: %(codes)s.",
            code="unknown_statutory_category",
            params={"codes": ", ".join(sorted(map(str, unknown)))},
        )
    return mask


def categories_of(mask: int) -> list[StatutoryCategory]:
    """The categories in a mask, in statutory order."""
    return [c for c in STATUTORY_CATEGORIES if mask & c.flag]


def codes_of(mask: int) -> list[str]:
    return [c.code for c in categories_of(mask)]


def reportable_mask(mask: int, *, same_brand_affiliate: bool) -> int:
    """What a notice must report of a disclosure to one recipient (§1798.83(a), (f)).

    The export does the same in SQL (`CASE ... & SAME_BRAND_REPORTABLE_MASK`); a test pins both.
    """
    return mask & SAME_BRAND_REPORTABLE_MASK if same_brand_affiliate else mask & ALL_MASK
