"""Default periodic tasks of the privacy-request app (installed by `manage.py setup_schedules`)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="Privacy requests: reminders",
        task="requests_app.send_reminders",
        crontab="0 7 * * *",
        description="Unassigned cases after 5 days (privacy office) and cases due within 5 days (assignee).",
    ),
    DefaultSchedule(
        name="Privacy requests: stuck-work watchdog",
        task="requests_app.fulfilment_watchdog",
        crontab="*/10 * * * *",
        description="Re-queues or flags fulfilment tasks whose worker died, so no case stays in progress forever.",
    ),
    DefaultSchedule(
        name="Privacy requests: queue public-form submissions again",
        task="requests_app.requeue_public_intake",
        crontab="*/10 * * * *",
        description="Opens the case of any web-form submission whose task was lost (older than 5 minutes).",
    ),
    DefaultSchedule(
        name="Privacy requests: purge expired access packages",
        task="requests_app.purge_expired_packages",
        crontab="30 2 * * *",
        description="Destroys the key and file of access packages past their download period.",
    ),
]
