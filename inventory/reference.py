"""Reference data the policy states, as data (seeded by migration 0002, tested).

Source: the company's privacy policy (see docs/regulations.md), sections cited per row.
"""

# (code, name, sensitivity, policy section, description)
DATA_CATEGORIES = [
    ("contact", "Personal contact information", "medium", "§2",
     "Name and physical address, email addresses and telephone numbers."),
    ("account", "User account information", "high", "§2",
     "Account log-in name and password, and payment information."),
    ("company", "Company information", "low", "§2",
     "Company name, size and location, role within the company, buying-intent signals."),
    ("marketing", "Marketing preferences", "low", "§2",
     "Communication preferences, e.g. opting in or out of marketing emails."),
    ("survey", "Survey and interactive content data", "medium", "§2",
     "Responses to surveys, online quizzes and assessments."),
    ("activity", "Website and email activity data", "medium", "§2",
     "Cookie, mobile and device ids; IP address and derived location; device and browser details; "
     "pages visited, content downloaded, times; whether emails were received, opened or clicked."),
]  # fmt: skip

# (code, name, policy section, description)
SOURCES = [
    ("website", "Website use and forms", "§3", "Your use of and interaction with the Website."),
    ("protocol", "Electronic communication protocols", "§3",
     "Network routing, equipment information, IP address, clickstream received with each visit."),
    ("cookies", "Cookies and flash cookies", "§3", "Unique identifiers, preferences, usage statistics."),
    ("pixels", "Pixels and embedded URLs", "§3", "Unique visits and email/advertisement opens."),
    ("widgets", "Widgets, buttons and tools", "§3", "Interactive mini-programs of other service providers."),
    ("web_analytics", "Website analytics tools", "§3", "Location, usage and interest profiles."),
    ("email_analytics", "Email analytics tools", "§3",
     "IP address, email client, inferred location, opens, forwards and prints."),
    ("public_social", "Public social media", "§3", "Profiles and posts the subject made public."),
    ("third_party_list", "Third-party lists", "§3", "Marketing opt-in lists and data aggregators."),
    ("phone", "Telephone", "§7", "Calls to the privacy line."),
    ("mail", "Postal mail", "§7", "Letters received."),
    ("email", "Email correspondence", "§7", "Messages to the privacy mailbox."),
]  # fmt: skip

# (code, name, kind, owner, description)
SYSTEMS = [
    ("privacyops", "privacyops database", "internal", "Privacy office",
     "This application's PostgreSQL database."),
]  # fmt: skip

# Roles (groups) created by migration; their permissions are synced from each app's roles.py.
ROLES = ["Privacy officer", "Analyst", "Auditor"]

# EU member states plus the EEA EFTA states (Iceland, Liechtenstein, Norway), where the GDPR applies.
# Source: GDPR Art. 3 and the EEA Agreement (Decision of the EEA Joint Committee No 154/2018).
EEA_COUNTRIES = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
]  # fmt: skip
