"""The consent app's settings, read in one place, with defaults taken from the company's policy.

Each may be overridden in Django settings (e.g. from the environment in privacyops/settings.py);
they are read on every call so tests can use `settings` overrides. The controller's identity comes
from `core.organisation.organisation()` (one definition for notices, receipts and 1798.83 notices).
"""

from datetime import timedelta

from django.conf import settings

from core.organisation import organisation

# CAN-SPAM (15 U.S.C. §7704(a)(3)) needs the link to work for at least 30 days after sending; a
# marketing email may be opened long after, so links stay valid for 400 days.
DEFAULT_UNSUBSCRIBE_MAX_AGE = timedelta(days=400)


def unsubscribe_max_age() -> timedelta:
    """CONSENT_UNSUBSCRIBE_MAX_AGE: how long an unsubscribe link works (default 400 days)."""
    return getattr(settings, "CONSENT_UNSUBSCRIBE_MAX_AGE", DEFAULT_UNSUBSCRIBE_MAX_AGE)


def receipt_controller() -> dict:
    """The PII controller named on every consent receipt (Kantara format), from the organisation.

    CONSENT_RECEIPT_CONTROLLER (a dict in the receipt's format) replaces it whole, if set.
    """
    override = getattr(settings, "CONSENT_RECEIPT_CONTROLLER", None)
    if override:
        return override
    org = organisation()
    return {
        "piiController": org.name,
        "contact": org.contact,
        "address": {
            "streetAddress": org.street_address,
            "addressLocality": org.locality,
            "addressRegion": org.region,
            "postalCode": org.postal_code,
            "addressCountry": org.country,
        },
        "email": org.privacy_email,
        "phone": org.privacy_phone,
        "piiControllerUrl": org.website,
    }


def receipt_jurisdiction() -> str:
    """CONSENT_RECEIPT_JURISDICTION: the jurisdiction named on receipts (default "US")."""
    return getattr(settings, "CONSENT_RECEIPT_JURISDICTION", "US")


def default_policy_url() -> str:
    """CONSENT_POLICY_URL, else the organisation's policy URL: used when a policy version has none."""
    return getattr(settings, "CONSENT_POLICY_URL", None) or organisation().policy_url


def marketing_opt_out_email() -> str:
    """Policy §7: opting out is also possible by writing to this address (CONSENT_MARKETING_OPT_OUT_EMAIL,
    else the organisation's)."""
    return (
        getattr(settings, "CONSENT_MARKETING_OPT_OUT_EMAIL", None) or organisation().marketing_opt_out_email
    )


def bulk_max_items() -> int:
    """CONSENT_BULK_MAX_ITEMS: most events one API call may record (default 1,000)."""
    return getattr(settings, "CONSENT_BULK_MAX_ITEMS", 1000)


def hash_key() -> str:
    """HASH_KEY: the key of the suppression list's email HMACs (required; privacyops/settings.py checks it)."""
    return settings.HASH_KEY


def site_url() -> str:
    """SITE_URL: the public base URL for links in emails, without a trailing slash."""
    return settings.SITE_URL.rstrip("/")


def privacy_office_email() -> str:
    """PRIVACY_OFFICE_EMAIL: where reports for the privacy office go."""
    return settings.PRIVACY_OFFICE_EMAIL
