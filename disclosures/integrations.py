"""The two calls this app makes into apps below it, each isolated in one function.

- consent (issue 5): `consent.selectors.subjects_without_consent` answers the §1798.83(c)(2) opt-out
  route's question in bulk, for a batch of any size.
- notices (issue 4): `notices.services.notice_enqueue` writes the outbox row inside our transaction and
  delivers after commit.

Both follow the cross-app contracts in BRIEF.md. Keeping them here means tests of everything else can
replace one function, and a change of contract touches one place.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

PARTNER_SHARING_PURPOSE = "share_marketing_partners"  # consent purpose code (contract, issue 5)
NOTICE_KIND = "notice_1798_83_delivered"  # notices.models.NoticeKind value (contract, issue 4)


def subjects_opted_out_of_partner_sharing(subject_ids: Iterable[int]) -> set[int]:
    """Subjects without current consent to sharing with marketing partners (one bulk lookup)."""
    try:
        from consent.selectors import subjects_without_consent
    except ImportError as exc:  # consent not installed yet: refuse rather than guess
        raise ImproperlyConfigured(
            "The §1798.83(c)(2) opt-out route is on but the consent ledger is not available."
        ) from exc
    return set(subjects_without_consent(subject_ids=subject_ids, purpose=PARTNER_SHARING_PURPOSE))


def enqueue_notice(*, subject, idempotency_key: str, context: dict, actor: Any = None) -> Any:
    """Put the §1798.83 notice in the outbox (must run inside the caller's transaction)."""
    try:
        from notices.services import notice_enqueue
    except ImportError as exc:
        raise ImproperlyConfigured("The notices outbox is not available: the notice can't be sent.") from exc
    return notice_enqueue(
        kind=NOTICE_KIND, idempotency_key=idempotency_key, context=context, subject=subject, actor=actor
    )
