from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Retention schedules, legal holds, the erasure engine, sweeps and certificates."""

    name = "retention"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registry exemptions)
