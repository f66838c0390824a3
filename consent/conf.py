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
