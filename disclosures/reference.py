"""Reference data seeded by migration 0002 (then editable in the admin), cited to its sources.

CATEGORY_MAPPING says which §1798.83(e)(6)(A) statutory categories each inventory DataCategory
(inventory/reference.py, policy §2) contains, field by field where the category is broader than one
statutory category. A field mapped to "" is known and deliberately maps to no statutory category
(e.g. IP addresses are personal data but not one of the 27): logging it is allowed and adds nothing
to a §1798.83 notice. Disclosing a whole DataCategory (no fields named) counts as every category its
fields map to, which errs on the side of telling the customer more.
"""

from core.organisation import DEFAULT_ORGANISATION, Organisation, organisation

# (DataCategory.code, field, statutory category code or "", why)
CATEGORY_MAPPING = [
    # Policy §2 "Personal Contact Information. Your name and physical address, email addresses, and
    # telephone numbers." + the subject's date of birth (DataSubject.date_of_birth, category contact).
    ("contact", "name", "name_and_address", "§1798.83(e)(6)(A)(A) names 'an individual's name and address'"),
    ("contact", "postal_address", "name_and_address", "§1798.83(e)(6)(A)(A)"),
    ("contact", "email", "email", "§1798.83(e)(6)(A)(B)"),
    ("contact", "phone", "telephone_number", "§1798.83(e)(6)(A)(M)"),
    ("contact", "date_of_birth", "age_or_date_of_birth", "§1798.83(e)(6)(A)(C)"),
    # Policy §2 "SYSPRO User Information ... User Log-In name and password, and payment information."
    ("account", "credit_card", "credit_card_number", "§1798.83(e)(6)(A)(W): card payment method"),
    ("account", "debit_card", "debit_card_number", "§1798.83(e)(6)(A)(X)"),
    ("account", "bank_account", "bank_account_number", "§1798.83(e)(6)(A)(V): direct-debit mandate"),
    ("account", "payment_history", "payment_history", "§1798.83(e)(6)(A)(Z): invoices paid, late payments"),
    ("account", "services", "kind_of_service_provided", "§1798.83(e)(6)(A)(T): SYSPRO services subscribed"),
    ("account", "products", "kind_of_product_purchased", "§1798.83(e)(6)(A)(R): licences bought"),
    ("account", "username", "", "a log-in name is none of the 27 categories"),
    # Policy §2 "Company Information ... your role within the company, and buying intent signals."
    ("company", "job_title", "occupation", "§1798.83(e)(6)(A)(L): role within the company"),
    ("company", "company_name", "", "the employer's name alone is none of the 27 categories"),
    ("company", "company_size", "", "not about the individual"),
    ("company", "buying_intent", "", "intent signals are none of the 27 categories"),
    # Policy §2 "Marketing Preferences", "Survey and Interactive Content Data", "Website and Email
    # Activity Data": none of them is a statutory category as such. An officer maps a survey whose
    # answers reveal e.g. education or occupation to that category here.
    ("marketing", "preferences", "", "channel, topics and frequency are none of the 27 categories"),
    ("survey", "answers", "", "map per survey when its answers reveal a statutory category"),
    ("activity", "ip_address", "", "IP address: personal data, but none of the 27 categories"),
    ("activity", "device_ids", "", "cookie and device ids: none of the 27 categories"),
    ("activity", "browsing", "", "pages visited, downloads, email opens: none of the 27 categories"),
]  # fmt: skip

# The business and its designated request channels are the controller's identity, defined once in
# core.organisation (policy §7, §13: "California Civil Code Sections 1798.83-1798.84 ... please call
# 800-369-8649 or send an email to privacy@us.syspro.com"; mail to the privacy office). Seeded into
# DisclosureSettings; editable there.


def settings_defaults() -> dict[str, str]:
    """The DisclosureSettings row's first values, from the organisation's identity (and its overrides)."""
    return _settings_values(organisation())


def _settings_values(org: Organisation) -> dict[str, str]:
    mail = f"Attn: Privacy, {org.postal_address}"
    return {
        "business_name": org.name,
        "business_postal_address": mail,
        "designated_postal_address": mail,
        "designated_email": org.privacy_email,
        "designated_phone": org.privacy_phone,
    }


# Read by migration 0002 (migrations are never edited): the same values, from the identity's defaults.
_SEED = _settings_values(DEFAULT_ORGANISATION)
BUSINESS_NAME = _SEED["business_name"]
BUSINESS_POSTAL_ADDRESS = _SEED["business_postal_address"]
DESIGNATED_EMAIL = _SEED["designated_email"]
DESIGNATED_PHONE = _SEED["designated_phone"]
