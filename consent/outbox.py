"""The consent app's notices, sent through the notices outbox (`notices.services.notice_enqueue`).

Called inside the caller's transaction: the outbox row commits (or rolls back) with the ledger row
that caused it, and a repeated call with the same idempotency key sends nothing new.
"""

from typing import Any

from django.utils import timezone

from . import conf


# NoticeKind values from the notices contract (BRIEF.md); strings keep this module import-light.
def _enqueue(**kwargs: Any):
    try:
        from notices.services import notice_enqueue
    except ImportError:  # TEMPORARY until feat/notices is merged into main; removed at the merge
        return None
    return notice_enqueue(**kwargs)


def opt_out_confirmation_enqueue(*, event: Any, purpose: Any, subject: Any, actor: Any = None):
    """Transactional confirmation of a withdrawal (not marketing: no consent needed to send it)."""
    return _enqueue(
        kind="opt_out_confirmed",
        idempotency_key=f"consent.opt_out_confirmed:{event.public_id}",
        context={
            "purpose": purpose.code,
            "purpose_name": purpose.name,
            "withdrawn_at": event.at.isoformat(),
            "receipt_id": str(event.public_id),
            "opt_out_email": conf.marketing_opt_out_email(),
        },
        subject=subject,
        language=getattr(event, "language", "") or "en",
        actor=actor,
    )


def policy_changed_enqueue(*, policy_version: Any, subject: Any, actor: Any = None):
    return _enqueue(
        kind="policy_changed",
        idempotency_key=f"consent.policy_changed:{policy_version.pk}:{subject.pk}",
        context={
            "policy_version": policy_version.version,
            "effective_on": policy_version.effective_on.isoformat(),
            "policy_url": policy_version.url or conf.default_policy_url(),
            "summary": policy_version.summary,
        },
        subject=subject,
        actor=actor,
    )


def expiry_report_enqueue(*, opened: int, open_total: int, actor: Any = None):
    """Tell the privacy office how many subjects must be asked again (counts only, no personal data)."""
    from django.conf import settings

    today = timezone.localdate()
    return _enqueue(
        kind="operations_report",
        idempotency_key=f"consent.expiry_report:{today.isoformat()}",
        context={
            "report": "consent_expiry",
            "title": "Expired consents to ask again",
            "date": today.isoformat(),
            "opened": opened,
            "open_total": open_total,
        },
        to_email=settings.PRIVACY_OFFICE_EMAIL,
        actor=actor,
    )
