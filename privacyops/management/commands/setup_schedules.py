from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from privacyops.schedules import default_schedules


class Command(BaseCommand):
    help = "Install the default periodic tasks into django-celery-beat (existing ones are left as edited)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        schedules = default_schedules()
        for item in schedules:
            minute, hour, dom, month, dow = item.crontab.split()
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=dom,
                month_of_year=month,
                day_of_week=dow,
                timezone="UTC",
            )
            _, was_created = PeriodicTask.objects.get_or_create(
                name=item.name,
                defaults={"task": item.task, "crontab": crontab, "description": item.description},
            )
            created += was_created
        self.stdout.write(f"Periodic tasks: {created} installed, {len(schedules) - created} already present.")
