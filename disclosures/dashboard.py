"""Cards for the admin index (privacyops.dashboard contract): a handful of aggregate queries."""

from django.urls import reverse

from core.dashboard import Card

from . import selectors


def dashboard_cards(request) -> list[Card]:
    if not request.user.has_perm("disclosures.view_disclosurebatch"):
        return []
    need = selectors.requirement()
    counts = selectors.dashboard_counts()
    cards = [
        Card(
            title="§1798.83 notices",
            value="Required" if need.required else "Not required",
            url=reverse("admin:disclosures_disclosuresettings_changelist"),
            level="warning" if need.employee_count is None else "info",
            note=need.reason,
        ),
        Card(
            title=f"Direct-marketing disclosures {counts.year}",
            value=counts.marketing_members,
            url=reverse("admin:disclosures_disclosurebatch_changelist") + "?purpose__exact=direct_marketing",
            note=f"{counts.marketing_batches} batches to third parties for their own marketing",
        ),
        Card(
            title=f"§1798.83 notices sent {counts.year}",
            value=counts.notices_delivered,
            url=reverse("admin:disclosures_disclosurenoticerequest_changelist"),
            level="warning" if counts.repeat_requests else "info",
            note=f"{counts.repeat_requests} second requests in a calendar year (flagged)",
        ),
        Card(
            title="§1798.84(d) corrections open",
            value=counts.corrections_open,
            url=reverse("admin:disclosures_noticecorrection_changelist"),
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
