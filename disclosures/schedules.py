"""Default periodic tasks of the disclosures app (installed by `manage.py setup_schedules`)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="§1798.84(d) cure deadlines",
        task="disclosures.check_cure_deadlines",
        crontab="0 6 * * *",
        description="Marks notice corrections whose 90-day clock ran out with customers pending as lapsed.",
    ),
    DefaultSchedule(
        name="Purge expired §1798.83 exports",
        task="disclosures.purge_exports",
        crontab="15 3 * * *",
        description="Deletes analyst export files a week after they were built (they hold customer references).",
    ),
]
