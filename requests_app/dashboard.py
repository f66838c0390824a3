"""Cards on the admin index (privacyops.dashboard contract): a handful of aggregate queries."""

from django.urls import reverse

from core.dashboard import Card

from .models import Status
from .selectors import dashboard_figures


def dashboard_cards(request) -> list[Card]:
    if not request.user.has_perm("requests_app.view_privacyrequest"):
        return []
    figures = dashboard_figures()
    base = reverse("admin:requests_app_privacyrequest_changelist")
    cards = [
        Card(
            title=f"Open: {Status(status).label}",
            value=count,
            url=f"{base}?status__exact={status}",
            level="warning" if status == Status.IDENTITY_IN_DOUBT and count else "info",
        )
        for status, count in figures.open_by_status.items()
    ]
    cards += [
        Card(
            title="Due this week",
            value=figures.due_this_week,
            url=f"{base}?due=week",
            level="warning" if figures.due_this_week else "info",
        ),
        Card(
            title="Overdue",
            value=figures.overdue,
            url=f"{base}?due=overdue",
            level="danger" if figures.overdue else "info",
        ),
        Card(
            title="Stuck fulfilment",
            value=figures.stuck,
            url=f"{base}?flag=stuck",
            level="danger" if figures.stuck else "info",
        ),
        Card(
            title="Median days to close (12 months)",
            value="-" if figures.median_days_to_close is None else figures.median_days_to_close,
            note="Completed and denied cases closed in the last 12 months.",
        ),
    ]
    return cards
