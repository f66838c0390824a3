from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registers the inventory's models)
