"""Inventory and audit permissions per role (collected by privacyops.roles)."""

_MODELS = [
    "datasubject", "datacategory", "source", "system", "thirdparty", "contactpoint", "useraccount",
    "companyaffiliation", "marketingpreference", "surveyresponse", "activityevent",
]  # fmt: skip
_VIEW = [f"inventory.view_{m}" for m in _MODELS]
_EDIT = [f"inventory.{a}_{m}" for m in _MODELS for a in ("add", "change")]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        *_EDIT,
        "inventory.reveal_sensitive",
        "inventory.erase_subject",
        "audit.view_auditevent",
    ],
    "Analyst": _VIEW,
    "Auditor": [*_VIEW, "audit.view_auditevent"],
}
