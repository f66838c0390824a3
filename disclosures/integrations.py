"""The two calls this app makes into apps below it, each in one function.

- consent: `consent.selectors.subjects_without_consent` answers the §1798.83(c)(2) opt-out route's
  question in bulk, for a batch of any size (cross-app contract, issue 5).
- notices: `notices.services.notice_enqueue` writes the outbox row inside our transaction and
  delivers after commit (cross-app contract, issue 4).

One function per call means a change of contract touches one place, and tests can stand in for it.
"""

from collections.abc import Iterable
from typing import Any

from consent.selectors import subjects_without_consent
from core.actors import Actor
from notices.models import NoticeKind
from notices.services import notice_enqueue

PARTNER_SHARING_PURPOSE = "share_marketing_partners"  # consent purpose code
NOTICE_KIND = NoticeKind.NOTICE_1798_83_DELIVERED.value


def subjects_opted_out_of_partner_sharing(subject_ids: Iterable[int]) -> set[int]:
    """Subjects without current consent to sharing with marketing partners (one bulk lookup).

    The consent ledger answers "no current grant": a withdrawal, an expiry, or never having opted in.
    """
    return set(subjects_without_consent(subject_ids=subject_ids, purpose=PARTNER_SHARING_PURPOSE))


def enqueue_notice(*, subject, idempotency_key: str, context: dict, actor: Actor = None) -> Any:
    """Put the §1798.83 notice in the outbox (must run inside the caller's transaction)."""
    return notice_enqueue(
        kind=NOTICE_KIND, idempotency_key=idempotency_key, context=context, subject=subject, actor=actor
    )
