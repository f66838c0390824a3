"""Consent cards on the admin index: opt-outs today, consents about to expire, people to ask again."""

from datetime import timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from core.dashboard import Card

from .selectors import expiring_consents, open_reconsent_requests, opt_outs_since

EXPIRY_HORIZON = timedelta(days=30)


def dashboard_cards(request) -> list[Card]:
    if not request.user.has_perm("consent.view_consentevent"):
        return []
    now = timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    expiring = expiring_consents(within=EXPIRY_HORIZON, at=now).count()
    to_ask = open_reconsent_requests().count()
    return [
        Card(
            title="Opt-outs today",
            value=opt_outs_since(since=start_of_day),
            url=reverse("admin:consent_consentevent_changelist")
            + "?"
            + urlencode({"action__exact": "withdraw", "at__gte": start_of_day.isoformat()}),
            note="Withdrawals recorded since midnight; each took effect at once.",
        ),
        Card(
            title="Consents expiring in 30 days",
            value=expiring,
            url=reverse("admin:consent_consentstate_changelist") + "?expiring=30",
            level="warning" if expiring else "info",
            note="No marketing after expiry until the subject consents again.",
        ),
        Card(
            title="Subjects to ask again",
            value=to_ask,
            url=reverse("admin:consent_reconsentrequest_changelist") + "?status__exact=open",
            level="warning" if to_ask else "info",
        ),
    ]
