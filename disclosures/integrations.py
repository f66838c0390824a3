"""The two calls this app makes into apps below it, each in one function.

- consent: `consent.selectors.subjects_with_consent_at` answers the §1798.83(c)(2) opt-out route's
  question in bulk, for a batch of any size, at the time of the disclosure (issue 5, issue 14 item 3);
  `consent.selectors.subjects_opted_out_of_anything_by` answers CAN-SPAM's (issue 14 item 2).
- notices: `notices.services.notice_enqueue` writes the outbox row inside our transaction and
  delivers after commit (cross-app contract, issue 4).

One function per call means a change of contract touches one place, and tests can stand in for it.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from consent.selectors import subjects_opted_out_of_anything_by, subjects_with_consent_at
from core.actors import Actor
from notices.models import NoticeKind
from notices.services import notice_enqueue

PARTNER_SHARING_PURPOSE = "share_marketing_partners"  # consent purpose code
NOTICE_KIND = NoticeKind.NOTICE_1798_83_DELIVERED.value


def subjects_opted_out_of_partner_sharing(subject_ids: Iterable[int], at: datetime | None = None) -> set[int]:
    """Subjects without consent to sharing with marketing partners in force at `at` (default now).

    The consent ledger answers "no grant in force": a withdrawal, an expiry, or never having opted in,
    judged at the time of the disclosure, not when it is logged (§1798.83(c)(2)).
    """
    ids = list(subject_ids)
    granted = subjects_with_consent_at(
        subject_ids=ids, purpose=PARTNER_SHARING_PURPOSE, at=at or timezone.now()
    )
    return set(ids) - granted


def subjects_opted_out_of_email_by(subject_ids: Iterable[int], at: datetime) -> set[int]:
    """Subjects who had opted out of anything (or were suppressed) by `at`: CAN-SPAM §7704(a)(4)(A)(iv)."""
    return subjects_opted_out_of_anything_by(subject_ids=subject_ids, at=at)


def enqueue_notice(*, subject, idempotency_key: str, context: dict, actor: Actor = None) -> Any:
    """Put the §1798.83 notice in the outbox (must run inside the caller's transaction)."""
    return notice_enqueue(
        kind=NOTICE_KIND, idempotency_key=idempotency_key, context=context, subject=subject, actor=actor
    )
