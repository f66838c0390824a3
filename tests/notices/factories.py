"""Helpers for notices tests: a marketing gate double, and enqueue/breach shortcuts through the services."""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from notices.models import NoticeKind
from notices.services import breach_record, notice_enqueue


@dataclass
class FakeGate:
    """A marketing gate with a set of (subject_id, purpose) pairs that have consent."""

    allowed: set = field(default_factory=set)
    calls: list = field(default_factory=list)

    def may_send(self, *, subject_id: int, purpose: str) -> bool:
        self.calls.append((subject_id, purpose))
        return (subject_id, purpose) in self.allowed

    def unsubscribe_url(self, *, subject_id: int, purpose: str) -> str:
        return f"https://privacy.example.com/unsubscribe/{purpose}/tok{subject_id}"


class ExplodingGate:
    """Fails the test if anything consults it (transactional notices must not)."""

    def may_send(self, *, subject_id: int, purpose: str) -> bool:
        raise AssertionError("the marketing gate was consulted for a transactional notice")

    def unsubscribe_url(self, *, subject_id: int, purpose: str) -> str:
        raise AssertionError("the marketing gate was consulted for a transactional notice")


ACK_CONTEXT = {
    "reference": "DSAR-2026-00042",
    "request_type": "access to your personal information",
    "regime": "the CCPA",
    "received_on": "2026-03-01",
    "due_on": "2026-04-15",
}


def enqueue_ack(subject, key: str = "case:1:ack", **kwargs):
    return notice_enqueue(
        kind=kwargs.pop("kind", NoticeKind.REQUEST_ACKNOWLEDGED),
        idempotency_key=key,
        context=kwargs.pop("context", ACK_CONTEXT),
        subject=subject,
        **kwargs,
    )


def make_breach(**overrides):
    now = timezone.now()
    values = dict(
        title="Support file server accessed",
        what_happened="An unauthorised party accessed a file server used by our support team.",
        discovered_at=now - dt.timedelta(hours=2),
        aware_at=now - dt.timedelta(hours=1),
        categories=["contact"],
        information_involved="Names, business email addresses and telephone numbers.",
        what_we_are_doing="We closed the access and reset credentials.",
        what_you_can_do="Be cautious of unexpected emails asking for passwords.",
        for_more_information="Call 800-369-8649.",
        selection={"regions": ["CA"]},
    )
    values.update(overrides)
    return breach_record(**values)


def breach_form_data(discovered, **extra) -> dict:
    """The admin's "add breach" form, filled as an officer would for a stolen laptop (POST data)."""
    from inventory.models import DataCategory

    return {
        "title": "Laptop stolen",
        "what_happened": "A laptop with a customer export was stolen.",
        "discovered_at_0": discovered.strftime("%Y-%m-%d"),
        "discovered_at_1": discovered.strftime("%H:%M:%S"),
        "aware_at_0": discovered.strftime("%Y-%m-%d"),
        "aware_at_1": discovered.strftime("%H:%M:%S"),
        "categories": [DataCategory.objects.get(code="contact").pk],
        "information_involved": "Names and emails.",
        "what_we_are_doing": "Remote wipe.",
        "what_you_can_do": "Watch for phishing.",
        "for_more_information": "Call us.",
        "select_regions": "ca",
        "select_countries": "US",
        **extra,
    }
