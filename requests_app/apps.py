from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"

    def ready(self) -> None:
        from retention.hooks import register_after_hold_release, register_sweep_protected_subjects

        from . import personal_data  # noqa: F401  (registers the cases' personal data and erasure hook)
        from .selectors import subjects_with_open_access_case
        from .services.deferred_erasure import erasures_resume_after_release

        # Retention sits below: it reaches the cases only through these two hooks (docs/design.md).
        register_sweep_protected_subjects(subjects_with_open_access_case)
        register_after_hold_release(erasures_resume_after_release)
