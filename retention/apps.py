from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Retention schedules, legal holds, the erasure engine, sweeps and certificates."""

    name = "retention"

    def ready(self) -> None:
        from connectors.datamap import register_contributor

        from . import personal_data  # noqa: F401  (registry exemptions)
        from .datamap import contribute_retention

        # The data map / Art. 30 record (connectors) lists the retention periods from here.
        register_contributor(contribute_retention)
