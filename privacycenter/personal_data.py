"""Registry declarations for the privacy center's models (imported by PrivacyCenterConfig.ready)."""

from inventory.registry import DELETE, registry

from .models import CenterLink

registry.register(
    CenterLink,
    subject="subject",
    category="account",
    collected_at="created_at",
    erase=DELETE,
    description="Privacy-center sign-in links sent to the subject (when sent, whether used).",
)
