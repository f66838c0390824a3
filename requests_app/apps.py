from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"

    def ready(self) -> None:
        from connectors.hooks import on_case_settled
        from retention.hooks import register_after_hold_release, register_sweep_protected_subjects

        from . import personal_data  # noqa: F401  (registers the cases' personal data and erasure hook)
        from .selectors import subjects_with_open_access_case
        from .services.deferred_erasure import erasures_resume_after_release

        # Lower layers reach the cases only through these hooks (docs/design.md).
        on_case_settled(_resume_when_systems_settle)
        register_sweep_protected_subjects(subjects_with_open_access_case)
        register_after_hold_release(erasures_resume_after_release)


def _resume_when_systems_settle(case_id: int) -> None:
    """Every other system of the case is done or waived: fulfil it again (it waited for them)."""
    from .services.fulfilment import fulfil_when_systems_settled

    fulfil_when_systems_settled(case_id=case_id)
