"""Retention permissions per role (collected by privacyops.roles)."""

_VIEW = [
    "retention.view_retentionschedule",
    "retention.view_legalhold",
    "retention.view_sweeprun",
    "retention.view_sweepbatch",
    "retention.view_erasurecertificate",
]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "retention.add_retentionschedule",
        "retention.change_retentionschedule",
        "retention.add_legalhold",
        "retention.change_legalhold",
        "retention.view_erasurejournal",
        "retention.run_sweep",
        "retention.replay_erasures",
    ],
    "Analyst": _VIEW,
    "Auditor": [*_VIEW, "retention.view_erasurejournal"],
}
