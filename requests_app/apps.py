from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"

    def ready(self) -> None:
        from retention.hooks import register_sweep_protected_subjects

        from . import personal_data  # noqa: F401  (registers the cases' personal data and erasure hook)
        from .selectors import subjects_with_open_access_case

        register_sweep_protected_subjects(subjects_with_open_access_case)
