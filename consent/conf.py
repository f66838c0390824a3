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


# --- The website (issue 18) ----------------------------------------------------------------------
# EU/EEA, UK and Switzerland: non-essential purposes stay off until chosen (ePrivacy Art. 5(3), GDPR
# Art. 7, UK PECR reg. 6, Swiss FADP). Everything else in the US gets the opt-out model (CCPA).
OPT_IN_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "GB",
        "CH",
    ]
)


def web_allowed_origins() -> list[str]:
    """Origins (scheme://host[:port]) whose pages may call the consent endpoint (CORS)."""
    return list(getattr(settings, "CONSENT_WEB_ALLOWED_ORIGINS", []))


def web_region_header() -> str:
    """Request header the CDN or proxy sets to the visitor's country (ISO 3166-1, optionally -subdivision).

    Default `CF-IPCountry` (Cloudflare); CloudFront users set `CloudFront-Viewer-Country`. Only a proxy
    should set it: the proxy must overwrite any value the browser sent.
    """
    return getattr(settings, "CONSENT_WEB_REGION_HEADER", "CF-IPCountry")


def web_default_region() -> str:
    """Region assumed when the header is missing or unknown; an opt-in country is the safe default."""
    return getattr(settings, "CONSENT_WEB_DEFAULT_REGION", "EU")


def web_rate_limit() -> tuple[int, int]:
    """(requests, seconds) per client IP for the consent endpoint and the opt-out pages."""
    return getattr(settings, "CONSENT_WEB_RATE_LIMIT", (60, 60))


def web_script_max_age() -> int:
    """Cache lifetime of the versioned consent.js URL (the content hash is in the URL): one year."""
    return getattr(settings, "CONSENT_WEB_SCRIPT_MAX_AGE", 365 * 24 * 3600)


def web_prepared_statements() -> bool:
    """CONSENT_WEB_PREPARED_STATEMENTS: run a web choice's ledger statement as a prepared statement (on).

    Parsing and planning that statement cost PostgreSQL about as much as running it. Turn off behind a
    pooler in transaction mode (PgBouncer before 1.21), which may run it on a session that never
    prepared it.
    """
    return bool(getattr(settings, "CONSENT_WEB_PREPARED_STATEMENTS", True))
