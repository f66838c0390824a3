"""Keyed hashes of email addresses for the suppression list (HMAC-SHA256 with the HASH_KEY setting).

The address itself is never stored: without the key a hash can't be reversed or even confirmed
by guessing, yet the same address always gives the same hash, so a re-import is recognised.
"""

import hashlib
import hmac
from collections.abc import Iterable

from inventory.models import ContactPoint, DataSubject, normalize_email

from . import conf


def email_hmac(email: str) -> str:
    normalized = normalize_email(email)
    return hmac.new(conf.hash_key().encode(), normalized.encode(), hashlib.sha256).hexdigest()


def subject_email_addresses(subject_ids: Iterable[int]) -> dict[int, set[str]]:
    """Normalised email addresses per subject: the primary address and email contact points (2 queries)."""
    ids = list(subject_ids)
    found: dict[int, set[str]] = {sid: set() for sid in ids}
    if not ids:
        return found
    for sid, email in DataSubject.objects.filter(pk__in=ids, erased_at__isnull=True).values_list(
        "pk", "email_normalized"
    ):
        if email:
            found[sid].add(email)
    for sid, email in ContactPoint.objects.filter(
        subject_id__in=ids, kind=ContactPoint.Kind.EMAIL, subject__erased_at__isnull=True
    ).values_list("subject_id", "value_normalized"):
        if email:
            found[sid].add(email)
    return found


def subject_email_hmacs(subject_ids: Iterable[int]) -> dict[int, set[str]]:
    return {
        sid: {email_hmac(e) for e in emails} for sid, emails in subject_email_addresses(subject_ids).items()
    }
