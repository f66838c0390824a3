"""Notices permissions per role (collected by privacyops.roles).

Officers manage templates and breaches, retry or cancel deliveries and start breach notifications;
nobody adds, edits or deletes outbox rows by hand (they are evidence, written by services).
Analysts and auditors read everything.
"""

_VIEW = ["notices.view_noticetemplate", "notices.view_notice", "notices.view_breach"]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "notices.add_noticetemplate",
        "notices.change_noticetemplate",
        "notices.retry_notice",
        "notices.add_breach",
        "notices.change_breach",
        "notices.notify_breach",
    ],
    "Analyst": _VIEW,
    "Auditor": _VIEW,
}
