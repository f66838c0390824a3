"""Fixtures for the disclosures tests."""

from dataclasses import dataclass, field

import pytest

from disclosures import integrations


@dataclass
class FakeNotice:
    pk: int
    kind: str
    idempotency_key: str
    context: dict
    subject_id: int


@dataclass
class FakeOutbox:
    """Stands in for notices.services.notice_enqueue (contract of issue 4): idempotent by key."""

    notices: dict[str, FakeNotice] = field(default_factory=dict)

    def enqueue(self, *, subject, idempotency_key, context, actor=None):
        if idempotency_key not in self.notices:
            self.notices[idempotency_key] = FakeNotice(
                pk=len(self.notices) + 1,
                kind=integrations.NOTICE_KIND,
                idempotency_key=idempotency_key,
                context=context,
                subject_id=subject.pk,
            )
        return self.notices[idempotency_key]


@pytest.fixture
def outbox(monkeypatch) -> FakeOutbox:
    box = FakeOutbox()
    monkeypatch.setattr(integrations, "enqueue_notice", box.enqueue)
    return box


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
