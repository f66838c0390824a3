"""Registry declarations for the cases' personal data (imported by RequestsAppConfig.ready).

Erasing a subject blanks the requester's contact details and free text on their cases but keeps the
facts of each case (type, dates, response, denial basis), which 11 CCR §7101 requires for 24 months.
"""

from inventory.hooks import register_before_subject_erasure
from inventory.registry import DELETE, HASH, NULL, SHRED, registry

from .models import CaseEvent, PrivacyRequest, Rectification

registry.register(
    PrivacyRequest,
    subject="subject",
    category="contact",
    collected_at="received_at",
    erase={
        "requester_name": NULL,
        "requester_email": HASH,
        "requester_phone": NULL,
        "requester_postal_address": NULL,
        "description": NULL,
        "doubt_reason": NULL,
    },
    anchors={"closed": "closed_at"},
    description="Privacy requests you made or that were made for you: requester contact details, dates, outcome.",
)
registry.register(
    CaseEvent,
    subject="subject",
    category="contact",
    collected_at="at",
    erase={"note": SHRED},
    append_only=True,
    description="The timeline of your privacy requests (officers' notes are encrypted).",
)
registry.register(
    Rectification,
    subject="subject",
    category="contact",
    collected_at="created_at",
    erase=DELETE,
    description="Corrections you asked for (values encrypted).",
)


def _destroy_packages(*, subject_id: int) -> None:
    from .services import packages_destroy_for_subject

    packages_destroy_for_subject(subject_id=subject_id)


register_before_subject_erasure(_destroy_packages)
