"""Default periodic tasks of the consent app (installed by `manage.py setup_schedules`)."""

from core.schedules import DefaultSchedule

SCHEDULES = [
    DefaultSchedule(
        name="Consent expiry sweep",
        task="consent.expiry_sweep",
        crontab="15 3 * * *",
        description="Lists subjects whose consent expired (re-consent requests); expired consent already "
        "blocks marketing, this only tells the marketing team whom to ask again.",
    ),
]
