"""Consent test helpers. Events go through the services, so sealing, folding and audit are real."""

import datetime as dt

from django.utils import timezone

from consent.models import Channel, PolicyVersion
from consent.services import (
    consent_grant,
    consent_withdraw,
    policy_version_create,
    policy_version_publish,
    reconsent_requests_open,
)

EVIDENCE = {
    "form_id": "newsletter-footer",
    "ip": "203.0.113.77",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
}


def grant(subject, purpose="marketing_email", *, at=None, channel=Channel.WEB_FORM, evidence=None, **kw):
    return consent_grant(
        subject_id=subject.pk, purpose=purpose, channel=channel, at=at, evidence=evidence or EVIDENCE, **kw
    )


def withdraw(subject, purpose="marketing_email", *, channel=Channel.EMAIL_LINK, evidence=None):
    return consent_withdraw(subject_id=subject.pk, purpose=purpose, channel=channel, evidence=evidence)


_policy_seq = iter(range(1, 10_000))


def published_policy(*, version=None, text=None, audience="", actor=None) -> PolicyVersion:
    n = next(_policy_seq)
    policy = policy_version_create(
        version=version or f"2026-{n:02d}",
        effective_on=dt.date(2026, 1, 1),
        text=text or f"Privacy policy text, version {n}.",
        url=f"https://us.syspro.com/privacy/v{n}",
        summary="We clarified how long we keep marketing preferences.",
        actor=actor,
    )
    return policy_version_publish(policy_version_id=policy.pk, notify_audience=audience, actor=actor)


def add_consent_records(subject) -> None:
    """One record of each consent model for a subject (used by make_full_subject, see the report's diff)."""
    now = timezone.now()
    grant(subject, "marketing_email", at=now - dt.timedelta(days=2))
    withdraw(subject, "surveys")
    # An analytics consent given 400 days ago has expired (395-day lifetime): the sweep lists the subject.
    grant(subject, "analytics_cookies", at=now - dt.timedelta(days=400), channel=Channel.COOKIE_BANNER)
    reconsent_requests_open(at=now)
