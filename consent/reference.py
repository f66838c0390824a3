"""Consent reference data the policy states, as data (seeded by migration 0002, tested).

Sources: the company's privacy policy (sections cited per row) and docs/regulations.md (consent).
Receipt purpose categories follow the Kantara Consent Receipt Specification v1.1 (Appendix, purpose
categories); data categories are inventory.DataCategory codes.
"""

# Purpose codes other apps rely on (docs/design.md, the consent contract). Never rename one: ledger rows store it.
MARKETING_EMAIL = "marketing_email"
MARKETING_PHONE = "marketing_phone"
ANALYTICS_COOKIES = "analytics_cookies"
ADVERTISING_PIXELS = "advertising_pixels"
SURVEYS = "surveys"
SHARE_MARKETING_PARTNERS = "share_marketing_partners"
TRANSACTIONAL = "transactional"

# One dict per purpose. consent_lifetime_days: None = lasts until withdrawn. Cookie-type consents
# are asked again after 13 months (395 days): the longest tracker consent lifetime the CNIL cookie
# guidelines (2020) accept; the privacy officer may change any lifetime in the admin.
PURPOSES = [
    {
        "code": MARKETING_EMAIL,
        "name": "Marketing emails",
        "service": "Marketing communications",
        "description": "Newsletters, product news and offers by email. Sent only with consent; every email "
        "carries an unsubscribe link (policy §4 'Marketing Purposes', §7 'Marketing Communications').",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": True,
        "confirm_withdrawal": True,
        "consent_lifetime_days": None,
        "receipt_purpose_category": "6 - Marketing",
        "third_party_disclosure": False,
        "policy_reference": "§4, §7",
        "data_categories": ["contact", "marketing"],
    },
    {
        "code": MARKETING_PHONE,
        "name": "Marketing calls",
        "service": "Marketing communications",
        "description": "Sales and marketing telephone calls (policy §4 'Marketing Purposes').",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": True,
        "confirm_withdrawal": True,
        "consent_lifetime_days": None,
        "receipt_purpose_category": "6 - Marketing",
        "third_party_disclosure": False,
        "policy_reference": "§4",
        "data_categories": ["contact", "company"],
    },
    {
        "code": ANALYTICS_COOKIES,
        "name": "Analytics cookies",
        "service": "Website",
        "description": "Website analytics cookies measuring how the Website is used (policy §3 'Cookies', "
        "'Website Analytics tools').",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": False,
        "confirm_withdrawal": False,
        "consent_lifetime_days": 395,
        "receipt_purpose_category": "16 - Improve Performance",
        "third_party_disclosure": False,
        "policy_reference": "§3",
        "data_categories": ["activity"],
    },
    {
        "code": ADVERTISING_PIXELS,
        "name": "Advertising pixels",
        "service": "Website",
        "description": "Pixels identifying unique visits for advertising and measuring email and "
        "advertisement opens (policy §3 'Pixels').",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": True,
        "confirm_withdrawal": False,
        "consent_lifetime_days": 395,
        "receipt_purpose_category": "6 - Marketing",
        "third_party_disclosure": False,
        "policy_reference": "§3",
        "data_categories": ["activity"],
    },
    {
        "code": SURVEYS,
        "name": "Surveys and interactive content",
        "service": "Research",
        "description": "Invitations to surveys, quizzes and assessments (policy §2 'Survey and Interactive "
        "Content Data').",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": False,
        "confirm_withdrawal": True,
        "consent_lifetime_days": None,
        "receipt_purpose_category": "16 - Improve Performance",
        "third_party_disclosure": False,
        "policy_reference": "§2",
        "data_categories": ["contact", "survey"],
    },
    {
        "code": SHARE_MARKETING_PARTNERS,
        "name": "Sharing with marketing partners",
        "service": "Partner marketing",
        "description": "Disclosing contact details to channel and business partners for their own direct "
        "marketing (policy §4; Cal. Civ. Code §1798.83, opt-in/opt-out alternative §1798.83(c)(2)).",
        "legal_basis": "consent",
        "required": False,
        "is_marketing": True,
        "confirm_withdrawal": True,
        "consent_lifetime_days": None,
        "receipt_purpose_category": "9 - Sharing for Marketing",
        "third_party_disclosure": True,
        "policy_reference": "§4, §5",
        "data_categories": ["contact", "company"],
    },
    {
        "code": TRANSACTIONAL,
        "name": "Transactional communications",
        "service": "SYSPRO services",
        "description": "Service announcements, billing, policy updates, welcome emails. Required to provide "
        "the Services; can't be opted out of (policy §4 'Transactional Communications').",
        "legal_basis": "contract",
        "required": True,
        "is_marketing": False,
        "confirm_withdrawal": False,
        "consent_lifetime_days": None,
        "receipt_purpose_category": "2 - Contracted Service",
        "third_party_disclosure": False,
        "policy_reference": "§4",
        "data_categories": ["contact", "account"],
    },
]
