"""Celery tasks: each takes ids only, calls one service and is idempotent.

The retry policy is PrivacyTask's (core.tasks): only database/broker connection errors are retried,
with bounded exponential backoff and jitter; acks_late, since every task here is safe to run twice.
"""

from celery import shared_task

from core.tasks import PrivacyTask

from . import services


@shared_task(name="disclosures.build_export", base=PrivacyTask)
def build_export(export_id: int) -> dict:
    """Build an analyst export's file (a ready export is left as is)."""
    export = services.export_build(export_id=export_id)
    return {"export": str(export.public_id), "status": export.status, "rows": export.row_count}


@shared_task(name="disclosures.send_correction_notices", base=PrivacyTask)
def send_correction_notices(correction_id: int) -> int:
    """Send corrected §1798.83 notices to every pending affected customer (resumable)."""
    return services.correction_send_notices(
        correction_id=correction_id, actor="disclosures.send_correction_notices"
    )


@shared_task(name="disclosures.check_cure_deadlines", base=PrivacyTask)
def check_cure_deadlines() -> int:
    """Daily: corrections whose §1798.84(d) 90-day clock ran out with customers pending become lapsed."""
    return services.corrections_check_deadlines()


@shared_task(name="disclosures.purge_exports", base=PrivacyTask)
def purge_exports() -> int:
    """Daily: delete export files past their expiry."""
    return services.exports_purge_expired()
