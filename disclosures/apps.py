from django.apps import AppConfig


class DisclosuresConfig(AppConfig):
    name = "disclosures"
    verbose_name = "Disclosures and §1798.83 notices"

    def ready(self) -> None:
        from . import (
            personal_data,  # noqa: F401  (registers the disclosure log and notice records)
            tasks,  # noqa: F401  (registered with Celery at start-up, not on first use)
        )
