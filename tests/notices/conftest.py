import pytest
from django.core import mail

from notices.gate import use_marketing_gate

from .factories import FakeGate


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    """Every notices test delivers into Django's in-memory outbox unless it installs another backend."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    yield


@pytest.fixture
def gate():
    """A registered marketing gate; add (subject_id, purpose) to gate.allowed to give consent."""
    with use_marketing_gate(FakeGate()) as installed:
        yield installed


@pytest.fixture
def subject(db):
    from tests.factories import DataSubjectFactory

    return DataSubjectFactory(name="Bob Example", email="bob@example.com")
