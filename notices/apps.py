from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = "Notices"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registers Notice in the personal-data registry)
