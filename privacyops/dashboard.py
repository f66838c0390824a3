"""Cards on the admin index. Each app may provide `<app>/dashboard.py` with

    def dashboard_cards(request) -> list[Card]: ...

reading through its selectors (a few aggregate queries, never one per row). `collect_cards` gathers
them in the apps' stack order for templates/admin/index.html (tag `dashboard_sections`).
"""

import logging

from django.apps import apps

from core.dashboard import Card, Section

from .discovery import DOMAIN_APPS, app_module

__all__ = ["Card", "Section", "collect_cards"]

logger = logging.getLogger(__name__)


def collect_cards(request) -> list[Section]:
    """Every app's cards. One app's failure shows as a card and is logged; the index still renders."""
    sections = []
    for app in DOMAIN_APPS:
        module = app_module(app, "dashboard")
        if module is None:
            continue
        try:
            cards = list(module.dashboard_cards(request))
        except Exception:
            logger.exception("dashboard_cards of app %s failed", app)
            cards = [Card(title="Dashboard unavailable", value="error", level="danger", note="See the logs.")]
        if cards:
            title = str(apps.get_app_config(app).verbose_name).capitalize()
            sections.append(Section(app_label=app, title=title, cards=cards))
    return sections
