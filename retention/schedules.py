"""Default periodic tasks of the retention app (installed by `manage.py setup_schedules`, editable in
the admin through django-celery-beat)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="Retention sweep",
        task="retention.sweep",
        crontab="30 2 * * *",
        description="Daily: erases records whose retention period ended (policy §8) and minors' data "
        "(policy §9), in batches; resumes an interrupted run; writes a certificate and reports.",
    ),
]
