from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    """The company's other systems: connections, Fides datasets, traversal, erasure, per-case runs."""

    name = "connectors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registry exemptions for our own models)
