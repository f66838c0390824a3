"""Rules shared by the disclosures use cases (public names: imported by sibling modules)."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from .. import rules

FIRST_NOTICE_YEAR = 2004  # §1798.83 operative 2005-01-01, covering disclosures of the preceding year
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew of sending systems


def validate_year(year: int) -> None:
    current = rules.year_of(timezone.now())
    if not FIRST_NOTICE_YEAR <= int(year) <= current:
        raise ValidationError(
            "A §1798.83 notice covers a past or the current calendar year (%(first)s-%(current)s), not %(year)s.",
            code="bad_year",
            params={"first": FIRST_NOTICE_YEAR, "current": current, "year": year},
        )
