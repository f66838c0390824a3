"""Per-app contributions collected by convention, so apps plug in without editing shared files.

An app may provide:
- `<app>/roles.py` with `PERMISSIONS = {"Privacy officer": [...], "Analyst": [...], "Auditor": [...]}`
  listing "app_label.codename" permissions (see privacyops.roles);
- `<app>/schedules.py` with `SCHEDULES = [DefaultSchedule(...), ...]` (see privacyops.schedules);
- `<app>/urls.py` (public pages, mounted at /<prefix>/) and `<app>/api_urls.py` (mounted at
  /api/<prefix>/), where prefix is the app label without an "_app" suffix.
"""

import importlib
import importlib.util
from types import ModuleType

DOMAIN_APPS = [
    "audit",
    "inventory",
    "notices",
    "connectors",
    "consent",
    "retention",
    "disclosures",
    "requests_app",
    "privacycenter",
]


def app_module(app: str, name: str) -> ModuleType | None:
    if importlib.util.find_spec(f"{app}.{name}") is None:
        return None
    return importlib.import_module(f"{app}.{name}")


def url_prefix(app: str) -> str:
    return app.removesuffix("_app")
