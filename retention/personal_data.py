"""Registry declarations of the retention app (imported by RetentionConfig.ready).

Its models point at data subjects but hold ids, codes and counts only, no personal data; they must
outlive the erasure they document.
"""

from inventory.registry import registry

from .models import ErasureCertificate, LegalHold

registry.exempt(
    LegalHold,
    reason="A hold names a subject by id, a category and a case reference; it holds no personal data "
    "and must outlive the erasure it blocks.",
)
registry.exempt(
    ErasureCertificate,
    reason="Evidence of an erasure: ids, counts, methods and hold codes only, kept after the subject is erased.",
)
