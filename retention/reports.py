"""The sweep report to the privacy officers, sent as a transactional notice (notices contract).

Kept in one function: the notices app delivers; this decides what the report says. The context
follows the `operations_report` template (title, summary, items, link) and carries ids, counts and a
link only, never personal data.
"""

from django.urls import reverse

from notices.models import Notice, NoticeKind
from notices.services import notice_enqueue

from . import conf
from .models import SweepRun


def sweep_report_context(run: SweepRun) -> dict:
    certificate = run.certificate
    items = [
        f"{category}: {totals['erased']} erased, {totals['kept']} kept under legal hold, {totals['errors']} failed batches"
        for category, totals in sorted(run.summary.items())
    ]
    return {
        "title": f"Retention sweep {run.get_status_display().lower()}: {run.erased_count} records erased",
        "summary": (
            f"Sweep {run.public_id} ({run.get_trigger_display().lower()}), expiry as of "
            f"{run.as_of:%Y-%m-%d %H:%M} UTC, finished {run.finished_at:%Y-%m-%d %H:%M} UTC.\n"
            f"{run.erased_count} records erased, {run.kept_count} kept under legal hold, "
            f"{run.error_count} failed batches."
            + (f"\nErasure certificate {certificate.public_id}." if certificate else "")
        ),
        "items": items or ["No records had reached the end of their retention period."],
        "link": conf.site_url() + reverse("admin:retention_sweeprun_change", args=[run.pk]),
        "run_id": str(run.public_id),
        "certificate_id": str(certificate.public_id) if certificate else "",
        "erased": run.erased_count,
        "kept_under_hold": run.kept_count,
        "errors": run.error_count,
    }


def sweep_report_send(*, run: SweepRun) -> Notice | None:
    """Queue the report inside the caller's transaction; once per run (the idempotency key)."""
    to_email = conf.privacy_office_email()
    if not conf.sweep_report_enabled() or not to_email:
        return None
    return notice_enqueue(
        kind=NoticeKind.OPERATIONS_REPORT,
        idempotency_key=f"retention.sweep-report:{run.public_id}",
        context=sweep_report_context(run),
        to_email=to_email,
        actor="retention.sweep",
    )
