"""What staff see of a stored notice: signed links withheld, and for read-only roles no addresses.

A notice's body and headers hold live signed links (identity verification, status, access-package
download, unsubscribe, §1798.83 notice). Whoever reads them can act as the recipient, so no screen,
API or export shows them to staff: the link's token is replaced, the rest of the message stays
readable. Delivery sends the stored row untouched; only displays go through here.
Analysts and auditors (no `notices.retry_notice`) also see email addresses replaced.
"""

import re
from typing import Any

# django.core.signing tokens in a URL path or query (colons plain or %3A, compressed ones start with ".").
SIGNED_TOKEN = re.compile(r"[\w.\-]+(?:(?::|%3A)[\w\-]+){1,2}(?::|%3A)[\w\-]{27,}", re.IGNORECASE)
LINK_MASK = "link-withheld"
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", re.IGNORECASE)
EMAIL_MASK = "[email withheld]"
FULL_VIEW_PERMISSION = "notices.retry_notice"


def mask_signed_links(text: str) -> str:
    """The text with every signed token replaced: the link shows where it led, but opens nothing."""
    return SIGNED_TOKEN.sub(LINK_MASK, text or "")


def sees_addresses(user: Any) -> bool:
    """Officers (who may retry delivery) see recipients' addresses; analysts and auditors don't."""
    return bool(user is not None and user.has_perm(FULL_VIEW_PERMISSION))


def redact_for(user: Any, text: str | None) -> str:
    """A stored body, subject line or header value as `user` may see it."""
    text = mask_signed_links(text or "")
    return text if sees_addresses(user) else EMAIL.sub(EMAIL_MASK, text)


def redact_headers_for(user: Any, headers: dict | None) -> dict:
    return {name: redact_for(user, str(value)) for name, value in (headers or {}).items()}
