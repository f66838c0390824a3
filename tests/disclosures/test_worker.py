"""The export task on a real Celery worker over Redis, as in production."""

import csv
import io

import pytest
from celery.result import AsyncResult

from disclosures import services
from disclosures.models import DisclosureExport

from .factories import MarketingPartnerFactory, bulk_subjects, log


# PostgreSQL too: the worker runs in another thread, which can't share SQLite's in-memory test database.
@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_builds_the_requested_export(celery_worker, media_root):
    from privacyops.celery import app

    partner = MarketingPartnerFactory(legal_name="Worker Partner Inc.")
    log(bulk_subjects(30), partner, "email", "telephone_number")

    export = services.export_request(year=2025, fmt="csv", actor="analyst")  # commits: the task is queued

    AsyncResult(export.task_id, app=app).get(timeout=60)
    export.refresh_from_db()
    assert export.status == DisclosureExport.Status.READY
    rows = list(csv.DictReader(io.StringIO(services.export_file_path(export).read_text())))
    assert len(rows) == export.row_count == 60
    assert {r["recipient_name"] for r in rows} == {"Worker Partner Inc."}
