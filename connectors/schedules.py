"""Default periodic tasks of the connectors app (installed by `manage.py setup_schedules`)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="Manual system tasks: reminders and escalation",
        task="connectors.manual_tasks_remind",
        crontab="0 8 * * *",
        description="Daily: reminds system owners two days before their task is due; tells the privacy "
        "team when a task is overdue (a case can't complete until it is answered or waived).",
    ),
]
