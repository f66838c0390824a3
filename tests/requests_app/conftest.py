"""Fixtures for the privacy-request tests."""

import importlib.util
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group

NOTICES_LANDED = importlib.util.find_spec("notices.services") is not None


@dataclass
class Outbox:
    """What cases asked the outbox to send: (kind, idempotency_key, to_email, context)."""

    calls: list[dict] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [c["kind"] for c in self.calls]

    def last(self, kind: str) -> dict:
        return [c for c in self.calls if c["kind"] == kind][-1]


class _Sent:
    pk = None


@pytest.fixture(autouse=True)
def outbox(monkeypatch):
    """Records every notice a case enqueues, at the one seam (requests_app.gateways.notice_enqueue).

    Until the notices app lands on main the call is recorded only; afterwards it is recorded AND passed to
    the real outbox.
    """
    from requests_app import gateways

    box = Outbox()
    real = gateways.notice_enqueue

    def record(**kwargs):
        box.calls.append(kwargs)
        return real(**kwargs) if NOTICES_LANDED else _Sent()

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
