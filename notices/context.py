"""The variables every notice gets besides its own context (see notices.defaults.COMMON_CONTEXT).

Shared by the outbox (services) and the breach sample notice (selectors), so it lives below both.
The controller's identity comes from core.organisation (the ORGANISATION setting), named once.
"""

import uuid
from typing import Any

from core import clock
from core.organisation import organisation
from inventory.models import DataSubject

from . import conf


def common_context(
    *, public_id: uuid.UUID, subject: DataSubject | None, unsubscribe_url: str
) -> dict[str, Any]:
    """Who sends the notice, to whom, its short reference and today's date."""
    org = organisation()
    return {
        "organisation": org.name,
        "privacy_email": org.privacy_email,
        "privacy_phone": org.privacy_phone,
        "postal_address": org.postal_address,
        "site_url": conf.site_url(),
        "recipient_name": (subject.name if subject is not None else "") or "",
        "notice_reference": str(public_id)[:8],
        "today": clock.business_today(),  # the date on the letter: the business's, not UTC's
        "unsubscribe_url": unsubscribe_url,
    }
