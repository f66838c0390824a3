"""Analyst exports of the year's §1798.83 statements: queue, build (resumable, idempotent), download, purge.

The file formats themselves live in `disclosures.exports`; this module owns the export's life cycle.
"""

import os
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label

from .. import conf, selectors
from .. import exports as formats
from ..models import DisclosureExport
from .common import validate_year

EXPORT_RETENTION = timedelta(days=7)  # export files hold customer references: delete them soon


def exports_dir() -> Path:
    """The export directory, created owner-only: the files hold customer references."""
    path = conf.exports_root()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


_EXTENSIONS = {
    DisclosureExport.Format.CSV: ".csv",
    DisclosureExport.Format.ZIP: ".zip",
    DisclosureExport.Format.SUMMARY: ".csv",
}


@transaction.atomic
def export_request(
    *, year: int, fmt: str = DisclosureExport.Format.CSV, notice_format: str = "pdf", actor: Actor = None
) -> DisclosureExport:
    """Queue an analyst export; a Celery task builds the file after commit."""
    from ..tasks import build_export

    validate_year(year)
    export = DisclosureExport(
        year=year,
        format=fmt,
        notice_format=notice_format,
        task_id=str(uuid.uuid4()),
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_by_label=actor_label(actor),
        requested_at=timezone.now(),
    )
    export.full_clean()
    export.save()
    audit_record(
        action="disclosures.export_requested",
        actor=actor,
        target=export,
        details={"year": year, "format": fmt, "notice_format": notice_format},
    )
    transaction.on_commit(lambda: build_export.apply_async(args=[export.pk], task_id=export.task_id))
    return export


def write_export(
    *,
    year: int,
    fmt: str,
    out,
    notice_format: str = "pdf",
    progress: formats.Progress | None = None,
    window: int = formats.EXPORT_WINDOW,
) -> tuple[formats.ExportStats, formats.Summary | None]:
    """Write one export format to a binary file object (used by the task and the command)."""
    cards = selectors.third_party_cards()
    business = selectors.business()
    if fmt == DisclosureExport.Format.CSV:
        return formats.export_csv(
            year=year, out=out, cards=cards, business=business, progress=progress, window=window
        ), None
    if fmt == DisclosureExport.Format.ZIP:
        return formats.export_zip(
            year=year,
            out=out,
            cards=cards,
            business=business,
            notice_format=notice_format,
            progress=progress,
            window=window,
        ), None
    if fmt == DisclosureExport.Format.SUMMARY:
        summary = formats.export_summary(year=year, cards=cards)
        data = summary.as_csv().encode()
        out.write(data)
        return formats.ExportStats(
            rows=len(summary.rows), customers=summary.customers, bytes=len(data)
        ), summary
    raise ValidationError("Unknown export format '%(fmt)s'.", params={"fmt": fmt})


def export_build(*, export_id: int, stale_after: timedelta | None = None) -> DisclosureExport:
    """Build a queued export's file. Idempotent: a ready export is returned as is; a running one is left
    alone unless it is stale (its worker died), so a redelivered task finishes the job."""
    stale_after = stale_after or conf.export_stale_after()
    now = timezone.now()
    claimable = Q(status__in=[DisclosureExport.Status.PENDING, DisclosureExport.Status.FAILED]) | Q(
        status=DisclosureExport.Status.RUNNING, started_at__lt=now - stale_after
    )
    claimed = DisclosureExport.objects.filter(claimable, pk=export_id).update(
        status=DisclosureExport.Status.RUNNING, started_at=now, error=""
    )
    export = DisclosureExport.objects.get(pk=export_id)
    if not claimed:
        return export
    directory = exports_dir()
    name = secrets.token_urlsafe(32) + _EXTENSIONS[export.format]
    final = directory / name
    partial = directory / (name + ".part")
    try:
        with open(partial, "wb") as fh:
            stats, _summary = write_export(
                year=export.year, fmt=export.format, out=fh, notice_format=export.notice_format
            )
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        with transaction.atomic():
            DisclosureExport.objects.filter(pk=export_id).update(
                status=DisclosureExport.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
            )
            audit_record(
                action="disclosures.export_failed",
                actor="disclosures.build_export",
                target=export,
                details={"error": type(exc).__name__},
            )
        raise
    with transaction.atomic():
        finished = timezone.now()
        DisclosureExport.objects.filter(pk=export_id).update(
            status=DisclosureExport.Status.READY,
            file_name=name,
            row_count=stats.rows,
            size_bytes=final.stat().st_size,
            finished_at=finished,
            expires_at=finished + EXPORT_RETENTION,
        )
        export.refresh_from_db()
        audit_record(
            action="disclosures.export_built",
            actor="disclosures.build_export",
            target=export,
            details={
                "year": export.year,
                "format": export.format,
                "rows": stats.rows,
                "bytes": export.size_bytes,
            },
        )
    return export


@transaction.atomic
def export_retry(*, export_id: int, actor: Actor = None) -> bool:
    """Queue a failed export again (admin action). Returns False when it was not failed."""
    from ..tasks import build_export

    task_id = str(uuid.uuid4())
    if not DisclosureExport.objects.filter(pk=export_id, status=DisclosureExport.Status.FAILED).update(
        status=DisclosureExport.Status.PENDING, task_id=task_id, error=""
    ):
        return False
    audit_record(
        action="disclosures.export_retried",
        actor=actor,
        target_type="disclosures.disclosureexport",
        target_id=export_id,
    )
    transaction.on_commit(lambda: build_export.apply_async(args=[export_id], task_id=task_id))
    return True


def export_file_path(export: DisclosureExport) -> Path | None:
    """The ready export's file, or None when it is not ready, purged or missing on disk."""
    if export.status != DisclosureExport.Status.READY or not export.file_name:
        return None
    path = exports_dir() / export.file_name
    return path if path.exists() else None


@transaction.atomic
def export_downloaded(*, export: DisclosureExport, actor: Actor = None) -> None:
    """Audit a download: who took customer references out of the system, and how many."""
    audit_record(
        action="disclosures.export_downloaded",
        actor=actor,
        target=export,
        details={"year": export.year, "format": export.format, "rows": export.row_count},
    )


@transaction.atomic
def export_written(*, year: int, fmt: str, rows: int, actor: Actor = "manage.py export_1798_83") -> None:
    """Audit an export written from the command line (the file is wherever the operator put it)."""
    audit_record(
        action="disclosures.export_written",
        actor=actor,
        target_type="disclosures.disclosureexport",
        details={"year": year, "format": fmt, "rows": rows},
    )


def exports_purge_expired(*, actor: Actor = "disclosures.purge_exports") -> int:
    """Delete export files past their expiry (they hold customer references) and mark them expired."""
    purged = 0
    now = timezone.now()
    for export in DisclosureExport.objects.filter(status=DisclosureExport.Status.READY, expires_at__lt=now):
        with transaction.atomic():
            if not DisclosureExport.objects.filter(pk=export.pk, status=DisclosureExport.Status.READY).update(
                status=DisclosureExport.Status.EXPIRED
            ):
                continue
            if export.file_name:
                (exports_dir() / export.file_name).unlink(missing_ok=True)
            audit_record(action="disclosures.export_purged", actor=actor, target=export)
            purged += 1
    return purged
