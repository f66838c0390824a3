"""Fixtures for the privacy-request tests."""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group


@dataclass
class Outbox:
    """What cases asked the outbox to send: (kind, idempotency_key, to_email, context)."""

    calls: list[dict] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [c["kind"] for c in self.calls]

    def last(self, kind: str) -> dict:
        return [c for c in self.calls if c["kind"] == kind][-1]


@pytest.fixture(autouse=True)
def outbox(monkeypatch):
    """A spy on the one seam (requests_app.gateways.notice_enqueue): records each call, then passes it
    to the real outbox (notices.services.notice_enqueue), so rows are written and rendered for real."""
    from requests_app import gateways

    box = Outbox()
    real = gateways.notice_enqueue

    def record(**kwargs):
        box.calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(gateways, "notice_enqueue", record)
    return box


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    from django.core.cache import cache

    cache.clear()  # the intake rate limit counts per IP in the cache
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://privacy.example.com"


@pytest.fixture
def officer(django_user_model):
    user = django_user_model.objects.create_user(
        username="olivia", password="x" * 16, email="olivia@example.com", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Privacy officer"))
    return user
