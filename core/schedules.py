"""A default periodic task, as data: apps list them in their `schedules.py` as `SCHEDULES`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    crontab: str  # "minute hour day_of_month month_of_year day_of_week"
    description: str
