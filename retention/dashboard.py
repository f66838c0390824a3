"""Retention cards on the admin index: the last sweep and the holds in force (two small queries)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from core.dashboard import Card

from .models import SweepRun
from .selectors import active_holds, last_runs


def dashboard_cards(request) -> list:
    cards = []
    last = last_runs(limit=1).first()
    runs_url = reverse("admin:retention_sweeprun_changelist")
    if last is None:
        cards.append(Card(title="Last retention sweep", value="never", url=runs_url, level="warning",
                          note="No sweep has run: expired data is not being erased."))  # fmt: skip
    else:
        level = "info"
        if last.status == SweepRun.Status.DONE_WITH_ERRORS:
            level = "danger"
        elif last.started_at < timezone.now() - timedelta(days=2):
            level = "warning"
        cards.append(
            Card(
                title="Last retention sweep",
                value=f"{last.erased_count} erased",
                url=reverse("admin:retention_sweeprun_change", args=[last.pk]),
                level=level,
                note=f"{last.get_status_display()}, started {last.started_at:%Y-%m-%d %H:%M} UTC; "
                f"{last.kept_count} kept under hold, {last.error_count} failed batches.",
            )
        )
    cards.append(
        Card(
            title="Legal holds in force",
            value=active_holds().count(),
            url=reverse("admin:retention_legalhold_changelist") + "?status=active",
        )
    )
    return cards
