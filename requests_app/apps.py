from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"

    def ready(self) -> None:
        from connectors.hooks import on_case_settled

        from . import personal_data  # noqa: F401  (registers the cases' personal data and erasure hook)

        on_case_settled(_resume_when_systems_settle)


def _resume_when_systems_settle(case_id: int) -> None:
    """Every other system of the case is done or waived: fulfil it again (it waited for them)."""
    from .services.fulfilment import fulfil_when_systems_settled

    fulfil_when_systems_settled(case_id=case_id)
