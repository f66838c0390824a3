"""The consent app's notices, sent through the notices outbox (`notices.services.notice_enqueue`).

Called inside the caller's transaction: the outbox row commits (or rolls back) with the ledger row
that caused it, and a repeated call with the same idempotency key sends nothing new. Contexts hold
what notices' templates use (notices.defaults.SAMPLE_CONTEXTS): ids, dates, links, never evidence.
"""

from collections.abc import Sequence
from typing import Any

from django.urls import reverse

from core import clock
from core.actors import Actor
from notices.models import NoticeKind
from notices.services import BulkItem, notice_enqueue, notice_enqueue_many

from . import conf


def _join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _opt_out_item(*, events: Sequence[Any], purposes: Sequence[Any], subject: Any) -> BulkItem:
    first = events[0]
    return BulkItem(
        f"consent.opt_out_confirmed:{first.public_id}",
        {
            "purpose": ",".join(p.code for p in purposes),
            "purpose_name": _join_names([p.name.lower() for p in purposes]),
            "effective_on": max(e.at for e in events).isoformat(),
            "channel": first.get_channel_display().lower(),
            "receipt_id": str(first.public_id),
            "receipt_ids": [str(e.public_id) for e in events],
            "opt_out_email": conf.marketing_opt_out_email(),
        },
        subject=subject,
    )


def opt_out_confirmation_enqueue(
    *, events: Sequence[Any], purposes: Sequence[Any], subject: Any, actor: Actor = None
):
    """Transactional confirmation of withdrawals (not marketing: no consent is needed to send it).

    One notice for the purposes withdrawn together (`events[i]` withdrew `purposes[i]`), keyed by the
    first event so a retried batch never sends it twice.
    """
    item = _opt_out_item(events=events, purposes=purposes, subject=subject)
    return notice_enqueue(
        kind=NoticeKind.OPT_OUT_CONFIRMED,
        idempotency_key=item.idempotency_key,
        context=dict(item.context),
        subject=subject,
        language=getattr(events[0], "language", "") or "en",
        actor=actor,
    )


def opt_out_confirmations_enqueue_many(
    *, withdrawals: Sequence[tuple[Sequence[Any], Sequence[Any], Any]], actor: Actor = None
) -> None:
    """opt_out_confirmation_enqueue for many subjects at once, each (events, purposes, subject): written
    by notices' bulk enqueue, one batch per language (one key query, one insert, one audit event)."""
    by_language: dict[str, list[BulkItem]] = {}
    for events, purposes, subject in withdrawals:
        language = getattr(events[0], "language", "") or "en"
        by_language.setdefault(language, []).append(
            _opt_out_item(events=events, purposes=purposes, subject=subject)
        )
    for language, items in sorted(by_language.items()):
        notice_enqueue_many(kind=NoticeKind.OPT_OUT_CONFIRMED, items=items, language=language, actor=actor)


def policy_changed_enqueue_many(*, policy_version: Any, subjects: Sequence[Any], actor: Actor = None):
    """Policy §11: a transactional notice to each affected subject of a batch (idempotent per version and
    subject), written by notices' bulk enqueue: one key query, one multi-row insert, one audit event."""
    context = {
        "policy_version": policy_version.version,
        "effective_on": policy_version.effective_on.isoformat(),
        "policy_url": policy_version.url or conf.default_policy_url(),
        "summary": policy_version.summary,
    }
    items = [
        BulkItem(f"consent.policy_changed:{policy_version.pk}:{subject.pk}", context, subject=subject)
        for subject in subjects
    ]
    return notice_enqueue_many(kind=NoticeKind.POLICY_CHANGED, items=items, actor=actor)


def expiry_report_enqueue(*, opened_by_purpose: dict[str, int], open_total: int, actor: Actor = None):
    """Tell the privacy office how many subjects to ask again (counts only, no personal data). Once a day."""
    today = clock.business_today()  # the privacy office's day, as every date the product states
    opened = sum(opened_by_purpose.values())
    link = conf.site_url() + reverse("admin:consent_reconsentrequest_changelist") + "?status__exact=open"
    return notice_enqueue(
        kind=NoticeKind.OPERATIONS_REPORT,
        idempotency_key=f"consent.expiry_report:{today.isoformat()}",
        context={
            "title": "Expired consents: subjects to ask again",
            "summary": f"{opened} consent(s) expired since the last sweep; {open_total} subject(s) are waiting "
            "to be asked again. Expired consent counts as withdrawn: no marketing goes to them meanwhile.",
            "items": [f"{purpose}: {count}" for purpose, count in sorted(opened_by_purpose.items())],
            "link": link,
        },
        to_email=conf.privacy_office_email(),
        actor=actor,
    )
