"""The consent app's settings, with defaults taken from the company's policy.

Each may be overridden in Django settings (e.g. from the environment in privacyops/settings.py);
read them through these functions so tests can use `settings` overrides.
"""

from datetime import timedelta

from django.conf import settings

# CAN-SPAM (15 U.S.C. §7704(a)(3)) needs the link to work for at least 30 days after sending; a
# marketing email may be opened long after, so links stay valid for 400 days.
DEFAULT_UNSUBSCRIBE_MAX_AGE = timedelta(days=400)

# Policy §13 (contact) and the policy's address: the PII controller named on every consent receipt.
DEFAULT_CONTROLLER = {
    "piiController": "SYSPRO USA",
    "contact": "Privacy Office",
    "address": {
        "streetAddress": "959 South Coast Drive, Suite 100",
        "addressLocality": "Costa Mesa",
        "addressRegion": "CA",
        "postalCode": "92626",
        "addressCountry": "US",
    },
    "email": "privacy@us.syspro.com",
    "phone": "800-369-8649",
    "piiControllerUrl": "https://us.syspro.com/",
}


def unsubscribe_max_age() -> timedelta:
    return getattr(settings, "CONSENT_UNSUBSCRIBE_MAX_AGE", DEFAULT_UNSUBSCRIBE_MAX_AGE)


def receipt_controller() -> dict:
    return getattr(settings, "CONSENT_RECEIPT_CONTROLLER", DEFAULT_CONTROLLER)


def receipt_jurisdiction() -> str:
    return getattr(settings, "CONSENT_RECEIPT_JURISDICTION", "US")


def default_policy_url() -> str:
    return getattr(settings, "CONSENT_POLICY_URL", "https://us.syspro.com/privacy/")


def marketing_opt_out_email() -> str:
    """Policy §7: opting out is also possible by writing to this address."""
    return getattr(settings, "CONSENT_MARKETING_OPT_OUT_EMAIL", "emarketing@us.syspro.com")


def bulk_max_items() -> int:
    return getattr(settings, "CONSENT_BULK_MAX_ITEMS", 1000)


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
