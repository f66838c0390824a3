"""Company-policy default retention schedules, seeded by migration 0002 and editable in the admin.

Policy §8 sets the rule (no longer than necessary for the purpose, unless a law requires otherwise) but
no numbers: these periods are the company's defaults, cited to the policy and the legal rule they serve,
marked `is_default` so a privacy officer knows to review them.
"""

# (category, model label or "", months, days, anchor, action, citation, legal basis)
DEFAULT_SCHEDULES = [
    ("activity", "", 24, 0, "collected", "delete",
     "Policy §8; GDPR Art. 5(1)(e) (storage limitation)",
     "Company policy default: website and email activity serves analytics and campaign measurement, "
     "compared over two years at most."),
    ("account", "inventory.UserAccount", 84, 0, "closed", "delete",
     "Policy §8 ('unless there is a specific legal requirement'); GDPR Art. 17(3)(b)",
     "Company policy default: a closed account's payment references are kept seven years after closing "
     "to cover tax and accounting record-keeping obligations, then deleted. Open accounts never expire "
     "by this schedule. Confirm the period with counsel for each jurisdiction."),
    # Marketing preferences only: the consent app's rows in this category (its ledger, the current state
    # derived from it, re-consent requests) follow consent rules, not this schedule.
    ("marketing", "inventory.MarketingPreference", 24, 0, "collected", "delete",
     "Policy §8; GDPR Art. 5(1)(e) (storage limitation)",
     "Company policy default: marketing preferences older than two years no longer reflect a choice "
     "and are deleted (consent itself is proven by the consent ledger, not by these rows)."),
    ("survey", "", 36, 0, "collected", "anonymise",
     "Policy §8; policy §7 (aggregated, de-identified data may be used)",
     "Company policy default: survey and assessment answers are kept three years, then anonymised "
     "(free-text answers shredded, questions cleared) so only de-identified statistics remain."),
]  # fmt: skip
