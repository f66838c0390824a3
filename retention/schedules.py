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
    DefaultSchedule(
        name="Legal hold expiry",
        task="retention.holds_expire",
        crontab="15 * * * *",
        description="Hourly: releases legal holds whose end date (a day in PRIVACY_TIME_ZONE) has passed "
        "(reason 'expired', audited), so an erasure a hold deferred resumes and its case completes within "
        "the hour after the business's midnight, whatever the server's time zone.",
    ),
]
