"""Privacy-center permissions per role (collected by privacyops.roles): officers register DRP agents."""

_VIEW = ["privacycenter.view_drpagent", "privacycenter.view_drprequest"]

PERMISSIONS = {
    "Privacy officer": [*_VIEW, "privacycenter.add_drpagent", "privacycenter.change_drpagent"],
    "Analyst": _VIEW,
    "Auditor": _VIEW,
}
