"""What the retention use cases share: the sweep's actor name, certificate wording, kept-record rows."""

from typing import Any

from ..models import LegalHold

SWEEP_ACTOR = "retention.sweep"
# Kept-record ids listed per batch and per certificate; beyond this only counts are kept.
KEPT_LIST_LIMIT = 10_000

NIST_CLEAR = "NIST SP 800-88 Rev. 1 Clear (logical overwrite or deletion in the database)"
NIST_PURGE_CRYPTO = (
    "NIST SP 800-88 Rev. 1 Purge: cryptographic erase (the subject's data key, stored only wrapped, "
    "was destroyed; every value sealed under it, in every copy, is unreadable)"
)
DISPOSAL = "Cal. Civ. Code §1798.81: erased or modified to make it unreadable or undecipherable"


def kept_row(label: str, pk: int, hold: LegalHold, note: str = "") -> dict[str, Any]:
    """One record kept under a hold, as certificates and sweep batches list it (ids and codes only)."""
    row = {
        "model": label,
        "pk": pk,
        "hold": str(hold.public_id),
        "code": hold.exception_code,
        "case_reference": hold.case_reference,
    }
    if note:
        row["note"] = note
    return row
