"""Registry declarations for the notices app (imported by NoticesConfig.ready).

A notice holds the address it went to and the text the person received: contact data. Erasure keeps
the row (evidence that a notice of this kind was sent, and when) but hashes the address and empties
everything rendered from personal data.
"""

from inventory.registry import HASH, NULL, registry

from .models import Notice

registry.register(
    Notice,
    subject="subject",
    category="contact",
    collected_at="created_at",
    erase={
        "to_email": HASH,
        "email_subject": NULL,
        "body_text": NULL,
        "body_html": NULL,
        "headers": NULL,
        "last_error": NULL,
    },
    description="Outbox notices: recipient address, rendered subject line and body, delivery headers.",
)
