"""The honeypot's answer: exactly what a real submission gets, with nothing stored.

A bot that fills the hidden field must not learn that it was caught (it would simply leave it empty
next time). A real submission redirects to a signed status link; the honeypot redirects to a signed
status link too, whose payload describes the request as typed, and the status page shows it as a
case just received and awaiting identity confirmation. Only we can sign such a link.
"""

import uuid
from datetime import datetime
from typing import Any

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from . import services
from .models import PrivacyRequest, Status
from .workflow import absolute_url

DECOY_KEY = "h"


def decoy_status_link(
    data: dict[str, Any], *, reference: uuid.UUID | None = None, received_at: datetime | None = None
) -> str:
    """A status link like `services.status_link(case)`, for a request we did not store, or (with its
    reference) one whose case a task is about to open: the page shows the case once it exists."""
    payload = {
        "r": str(reference or uuid.uuid4()),
        DECOY_KEY: [data["request_type"], data["regime"], (received_at or timezone.now()).isoformat()],
    }
    token = signing.dumps(payload, salt=services.STATUS_SALT)
    return absolute_url(reverse("requests_app:status", args=[token]))


def decoy_case(payload: dict) -> PrivacyRequest | None:
    """An unsaved case for the status page, or None if the payload is not a decoy's."""
    try:
        request_type, regime, received = payload[DECOY_KEY]
        received_at = timezone.datetime.fromisoformat(received)
        dates = services.compute_due_dates(
            regime=regime, request_type=request_type, received_at=received_at, at_designated_address=True
        )
    except (KeyError, TypeError, ValueError):
        return None
    return PrivacyRequest(
        reference=payload["r"], type=request_type, regime=regime, status=Status.VERIFYING,
        received_at=received_at, **dates,
    )  # fmt: skip
