"""Celery application, wired the standard way (settings under the CELERY_ namespace), with the project's
Django fix-up (privacyops/celery_fixup.py: connections kept per CONN_MAX_AGE) instead of Celery's."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")

app = Celery("privacyops", fixups=["privacyops.celery_fixup:fixup"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="privacyops.health")
def health() -> dict:
    """Round-trip check for monitoring: proves a worker is consuming and can reach the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"status": "ok", "database": one == 1}
