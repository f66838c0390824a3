"""Default periodic tasks of the notices app (installed by `manage.py setup_schedules`)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="Notices: re-deliver orphaned outbox notices",
        task="notices.sweep_outbox",
        crontab="*/5 * * * *",
        description=(
            "Re-queues pending notices whose delivery task was lost (broker outage, crash after commit) "
            "and re-examines notices stuck in 'sending' past their lease."
        ),
    ),
    DefaultSchedule(
        name="Notices: resume stalled breach notifications",
        task="notices.resume_breach_notifications",
        crontab="*/10 * * * *",
        description="Queues the next batch of a breach notification whose batches stopped.",
    ),
    DefaultSchedule(
        name="Notices: breach clock reminders",
        task="notices.breach_clock_reminders",
        crontab="0 * * * *",
        description=(
            "Emails the privacy office when a breach clock (72 h authority, 30-day California notice, "
            "15-day Attorney General sample) is about to run out or is overdue; one reminder a day per clock."
        ),
    ),
]
