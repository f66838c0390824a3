"""Registry declarations for the consent app's models (imported by ConsentConfig.ready)."""

from inventory.registry import DELETE, SHRED, registry

from .models import ConsentEvent, ConsentState, ReconsentRequest, WebDevice

registry.register(
    ConsentEvent,
    subject="subject",
    category="marketing",
    collected_at="recorded_at",
    erase={"evidence": SHRED},
    append_only=True,
    description="Consent ledger: grants and withdrawals with sealed evidence (IP network, user agent, note). "
    "Erasure destroys the key: the proof that consent existed stays, the evidence becomes unreadable.",
)
registry.register(
    ConsentState,
    subject="subject",
    category="marketing",
    collected_at="at",
    erase=DELETE,
    description="Current consent per purpose (derived from the ledger); deleted on erasure, so nothing is "
    "marketed to an erased subject.",
)
registry.register(
    ReconsentRequest,
    subject="subject",
    category="marketing",
    collected_at="created_at",
    erase=DELETE,
    description="Subjects to ask for consent again after their consent expired.",
)
registry.register(
    WebDevice,
    subject="person",
    category="marketing",
    collected_at="created_at",
    erase=DELETE,
    description="Website devices linked to the person through a verified privacy-center link (device id, "
    "region). Erasure deletes the link; the device's own choices stay pseudonymous.",
)
