"""Connectors permissions per role (collected by privacyops.roles)."""

_MODELS = ["connection", "dataset", "systemrun", "erasurejournal", "datamapsnapshot"]
_VIEW = [f"connectors.view_{m}" for m in _MODELS]

PERMISSIONS = {
    "Privacy officer": [
        *_VIEW,
        "connectors.add_connection",
        "connectors.change_connection",
        "connectors.add_dataset",
        "connectors.change_dataset",
        "connectors.operate_systemrun",
        "connectors.add_datamapsnapshot",
    ],  # fmt: skip
    "Analyst": _VIEW,
    "Auditor": _VIEW,
}
