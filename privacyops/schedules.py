"""Default periodic tasks, as data. Apps contribute `SCHEDULES` in their schedules.py.

django-celery-beat's DatabaseScheduler reads its tables, so once installed an operator edits or
disables a schedule in the admin; `setup_schedules` never overwrites an edited schedule.
"""

from core.schedules import DefaultSchedule

PROJECT_SCHEDULES: list[DefaultSchedule] = [
    DefaultSchedule(
        name="Health check",
        task="privacyops.health",
        crontab="*/15 * * * *",
        description="Proves a worker is consuming and the database answers.",
    ),
]


def default_schedules() -> list[DefaultSchedule]:
    from .discovery import DOMAIN_APPS, app_module

    found = list(PROJECT_SCHEDULES)
    for app in DOMAIN_APPS:
        module = app_module(app, "schedules")
        if module is not None:
            found.extend(module.SCHEDULES)
    return found
