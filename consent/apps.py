from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"

    def ready(self) -> None:
        from inventory.hooks import register_before_subject_erasure

        from . import personal_data  # noqa: F401  (registers the consent models)
        from .services import consent_suppress_before_erasure

        # Before erasure destroys the addresses, keep keyed hashes of opted-out ones (suppression list).
        register_before_subject_erasure(consent_suppress_before_erasure)
        _register_marketing_gate()
        _register_datamap_purposes()


def _register_marketing_gate() -> None:
    """The notices outbox asks this gate before any marketing message (default without it: refuse)."""
    from notices.gate import register_marketing_gate

    from .gate import gate

    register_marketing_gate(gate)


def _register_datamap_purposes() -> None:
    """The data map / Art. 30 record (connectors) lists the purposes from here."""
    from connectors.datamap import register_contributor

    from .datamap import contribute_purposes

    register_contributor(contribute_purposes)
