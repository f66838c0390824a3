"""Cards on the admin index: the outbox (pending, failed, sent today) and open breach clocks."""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from core.dashboard import Card

from .selectors import breach_open_clocks, outbox_counts


def dashboard_cards(request) -> list[Card]:
    cards: list[Card] = []
    if request.user.has_perm("notices.view_notice"):
        counts = outbox_counts()
        url = reverse("admin:notices_notice_changelist")
        midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        cards += [
            Card(
                title="Notices pending",
                value=counts.pending,
                url=f"{url}?status__in=pending,sending",
                note="Waiting for delivery or being sent.",
            ),
            Card(
                title="Notices failed",
                value=counts.failed,
                url=f"{url}?status__exact=failed",
                level="danger" if counts.failed else "info",
                note="Delivery gave up; retry from the outbox." if counts.failed else "",
            ),
            Card(
                title="Notices sent today",
                value=counts.sent_today,
                url=f"{url}?{urlencode({'sent_at__gte': midnight.isoformat()})}",
            ),
        ]
    if request.user.has_perm("notices.view_breach"):
        clocks = breach_open_clocks()
        overdue = [c for c in clocks if c.overdue]
        soon = [c for c in clocks if c.needs_reminder and not c.overdue]
        if clocks:
            cards.append(
                Card(
                    title="Breaches with a clock running",
                    value=len({c.breach_id for c in clocks}),
                    url=reverse("admin:notices_breach_changelist") + "?clock=running",
                    level="danger" if overdue else ("warning" if soon else "info"),
                    note=f"{len(clocks)} clocks: {len(overdue)} overdue, {len(soon)} due soon.",
                )
            )
    return cards
