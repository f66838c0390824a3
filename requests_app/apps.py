from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registers the cases' personal data and erasure hook)
