"""Default periodic tasks, as data. Apps append their entries; `setup_schedules` installs them.

django-celery-beat's DatabaseScheduler reads its tables, so once installed an operator edits or
disables a schedule in the admin; `setup_schedules` never overwrites an edited schedule.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    crontab: str  # "minute hour day_of_month month_of_year day_of_week"
    description: str


DEFAULT_SCHEDULES: list[DefaultSchedule] = [
    DefaultSchedule(
        name="Health check",
        task="privacyops.health",
        crontab="*/15 * * * *",
        description="Proves a worker is consuming and the database answers.",
    ),
]
