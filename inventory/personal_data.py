"""Registry declarations for the inventory's own models (imported by InventoryConfig.ready)."""

from .models import (
    ActivityEvent,
    CompanyAffiliation,
    ContactPoint,
    DataKey,
    DataSubject,
    MarketingPreference,
    SurveyResponse,
    UserAccount,
)
from .registry import DELETE, HASH, NULL, SHRED, registry

registry.register(
    DataSubject,
    subject="",
    category="contact",
    collected_at="created_at",
    erase={
        "name": NULL,
        "email": NULL,
        "email_normalized": HASH,
        "phone": NULL,
        "postal_address": NULL,
        "company": NULL,
        "role": NULL,
        "date_of_birth": SHRED,
    },
    description="The subject's own row: name, primary email, phone, address, company, role, date of birth.",
)
registry.register(
    ContactPoint,
    subject="subject",
    category="contact",
    collected_at="collected_at",
    erase=DELETE,
    description="Further email addresses, telephone numbers and postal addresses.",
)
registry.register(
    UserAccount,
    subject="subject",
    category="account",
    collected_at="collected_at",
    erase=DELETE,
    anchors={"closed": "closed_at", "last_login": "last_login_at"},
    description="Login name, password hash, payment method reference.",
)
registry.register(
    CompanyAffiliation,
    subject="subject",
    category="company",
    collected_at="collected_at",
    erase=DELETE,
    description="Company name, size, location, role and buying-intent signals.",
)
registry.register(
    MarketingPreference,
    subject="subject",
    category="marketing",
    collected_at="collected_at",
    erase=DELETE,
    description="Chosen marketing channel, topics and frequency.",
)
registry.register(
    SurveyResponse,
    subject="subject",
    category="survey",
    collected_at="collected_at",
    erase={"answer": SHRED, "question": NULL},
    description="Survey, quiz and assessment answers (free text encrypted).",
)
registry.register(
    ActivityEvent,
    subject="subject",
    category="activity",
    collected_at="collected_at",
    erase=DELETE,
    description="Page views, downloads, email opens and clicks with IP address, device and cookie ids.",
)
registry.exempt(
    DataKey, reason="Holds the subject's wrapped key, not personal data; emptied by crypto-shredding."
)
