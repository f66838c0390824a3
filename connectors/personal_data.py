"""Registry declarations for the connectors' models (imported by ConnectorsConfig.ready)."""

from inventory.registry import registry

from .models import SystemRun

registry.exempt(
    SystemRun,
    reason="Work log per case and system; its identities and results are sealed and blanked when settled, "
    "the personal data itself lives in the external system the run reaches.",
)
