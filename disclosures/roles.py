"""Disclosures permissions per role (collected by privacyops.roles).

Officers run the §1798.83 set-up, the mapping and corrections; analysts read the log and run exports;
auditors read. The log itself is written only by services (API, jobs): nobody edits it.
"""

_MODELS = [
    "disclosurebatch",
    "disclosureevent",
    "disclosurenoticerequest",
    "noticecorrection",
    "correctionrecipient",
    "categorymapping",
    "disclosuresettings",
    "disclosureexport",
]
_VIEW = [f"disclosures.view_{m}" for m in _MODELS]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "disclosures.add_categorymapping",
        "disclosures.change_categorymapping",
        "disclosures.delete_categorymapping",
        "disclosures.change_disclosuresettings",
        "disclosures.add_noticecorrection",
        "disclosures.manage_correction",
        "disclosures.log_disclosures",
        "disclosures.run_export",
    ],
    "Analyst": [*_VIEW, "disclosures.run_export"],
    "Auditor": _VIEW,
}
