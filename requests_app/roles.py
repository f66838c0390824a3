"""Privacy-request permissions per role (collected by privacyops.roles)."""

_MODELS = ["privacyrequest", "caseevent", "fulfilmentattempt", "accesspackage", "rectification",
           "recipientnotification", "verificationtoken"]  # fmt: skip
_VIEW = [f"requests_app.view_{m}" for m in _MODELS]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "requests_app.add_privacyrequest",
        "requests_app.change_privacyrequest",
        "requests_app.verify_privacyrequest",
        "requests_app.fulfil_privacyrequest",
        "requests_app.deny_privacyrequest",
        "requests_app.view_request_metrics",
    ],
    "Analyst": ["requests_app.view_privacyrequest", "requests_app.view_request_metrics"],
    "Auditor": [*_VIEW, "requests_app.view_request_metrics"],
}
