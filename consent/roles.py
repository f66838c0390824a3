"""Consent permissions per role (collected by privacyops.roles)."""

_MODELS = ["purpose", "policyversion", "consentevent", "consentstate", "suppressedaddress", "reconsentrequest",
           "consentimport"]  # fmt: skip
_VIEW = [f"consent.view_{m}" for m in _MODELS]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "consent.add_purpose",
        "consent.change_purpose",
        "consent.add_policyversion",
        "consent.change_policyversion",
        "consent.publish_policyversion",
        "consent.record_consent",
        "consent.import_consent",
        "consent.add_suppressedaddress",
        "consent.lift_suppression",
        "consent.change_reconsentrequest",
    ],
    "Analyst": _VIEW,
    "Auditor": _VIEW,
}
