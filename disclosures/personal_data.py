"""Registry declarations for the disclosures app (imported by DisclosuresConfig.ready).

The disclosure log and the record of delivered notices are ledgers: append-only in the database,
ids and codes only. Erasure never writes them; once the subject's row is blanked and its key destroyed
they no longer identify anyone, and they remain the evidence of what was disclosed and what the
customer was told (§1798.83 notices, §1798.84(d) cure).
"""

from inventory.registry import registry

from .models import CorrectionRecipient, DisclosureEvent, DisclosureNoticeRequest

registry.register(
    DisclosureEvent,
    subject="subject",
    category="marketing",
    collected_at="at",
    erase={},
    append_only=True,
    description="Disclosure log: which statutory categories went to which recipient, when and why "
    "(ids, codes and a category bitmask; no personal data in clear).",
)
registry.register(
    DisclosureNoticeRequest,
    subject="subject",
    category="marketing",
    collected_at="delivered_at",
    erase={},
    append_only=True,
    description="§1798.83 notices delivered: year, case reference, and the statement sent "
    "(categories and recipients' business names and addresses only).",
)
registry.exempt(
    CorrectionRecipient,
    reason="Ids and delivery status only: the evidence that a corrected §1798.83 notice went to the customer "
    "within the §1798.84(d) 90 days. The notices themselves are registered (DisclosureNoticeRequest).",
)
