"""Cards for the admin index (privacyops.dashboard contract): a handful of aggregate queries."""

from urllib.parse import urlencode

from django.urls import reverse

from core.dashboard import Card

from . import selectors
from .models import Purpose


def dashboard_cards(request) -> list[Card]:
    if not request.user.has_perm("disclosures.view_disclosurebatch"):
        return []
    need = selectors.requirement()
    counts = selectors.dashboard_counts()
    due_year = selectors.notice_year_due()
    events = reverse("admin:disclosures_disclosureevent_changelist")
    requests = reverse("admin:disclosures_disclosurenoticerequest_changelist")
    cards = [
        Card(
            title="§1798.83 notices",
            value="Required" if need.required else "Not required",
            url=reverse("admin:disclosures_disclosuresettings_changelist"),
            level="warning" if need.employee_count is None else "info",
            note=need.reason,
        ),
        Card(
            title=f"Direct-marketing disclosures {due_year}",
            value=selectors.marketing_disclosures(year=due_year).count(),
            url=f"{events}?{urlencode({'purpose__exact': Purpose.DIRECT_MARKETING, 'year': due_year})}",
            note=f"The year the §1798.83 notices requested now must cover ({counts.year} so far: "
            f"{counts.marketing_members} in {counts.marketing_batches} batches).",
        ),
        Card(
            title=f"§1798.83 notices sent {counts.year}",
            value=counts.notices_delivered,
            url=f"{requests}?{urlencode({'kind__exact': 'request', 'delivered_year': counts.year})}",
            level="warning" if counts.repeat_requests else "info",
            note=f"{counts.repeat_requests} second requests in a calendar year (flagged)",
        ),
        Card(
            title="§1798.84(d) corrections open",
            value=counts.corrections_open,
            url=reverse("admin:disclosures_noticecorrection_changelist") + "?status__in=open,lapsed",
            level="danger" if counts.corrections_lapsed or counts.corrections_due_soon else "info",
            note=f"{counts.corrections_due_soon} due within 14 days, {counts.corrections_lapsed} past 90 days",
        ),
    ]
    if request.user.has_perm("disclosures.run_export"):
        cards.append(
            Card(
                title="Exports ready",
                value=counts.exports_ready,
                url=reverse("admin:disclosures_disclosureexport_changelist") + "?status__exact=ready",
            )
        )
    return cards
