from django.apps import AppConfig


class PrivacyCenterConfig(AppConfig):
    """The self-service privacy center (issue 18): top of the import stack, above requests_app."""

    name = "privacycenter"
    verbose_name = "Privacy center"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import personal_data  # noqa: F401  (registry declarations)
