"""The sweep report to the privacy officers, sent as a transactional notice (notices contract).

Kept in one function: the notices app is the delivery mechanism; this decides what the report says.
"""

import logging

from django.conf import settings
from django.urls import reverse

from .models import SweepRun

logger = logging.getLogger(__name__)


def sweep_report_context(run: SweepRun) -> dict:
    """Ids, counts and links only: the report never quotes personal data."""
    certificate = run.certificate
    return {
        "run_id": str(run.public_id),
        "status": run.get_status_display(),
        "trigger": run.get_trigger_display(),
        "as_of": run.as_of.isoformat(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else "",
        "erased": run.erased_count,
        "kept_under_hold": run.kept_count,
        "errors": run.error_count,
        "per_category": run.summary,
        "certificate_id": str(certificate.public_id) if certificate else "",
        "link": settings.SITE_URL.rstrip("/") + reverse("admin:retention_sweeprun_change", args=[run.pk]),
    }


def sweep_report_send(*, run: SweepRun):
    """Queue the report notice inside the caller's transaction; once per run (idempotency key)."""
    if not getattr(settings, "RETENTION_SWEEP_REPORT", True):
        return None
    try:
        from notices.services import notice_enqueue
    except ImportError:  # the notices app is not installed yet on this branch
        logger.info("retention sweep %s finished; notices app not available, report not sent", run.pk)
        return None
    return notice_enqueue(
        kind="operations_report",
        idempotency_key=f"retention.sweep-report:{run.public_id}",
        context={"report": "retention_sweep", **sweep_report_context(run)},
        to_email=settings.PRIVACY_OFFICE_EMAIL,
        actor="retention.sweep",
    )
