import pytest
from django.core import mail

from notices.defaults import seed_default_templates
from notices.gate import use_marketing_gate
from notices.models import NoticeTemplate

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


@pytest.fixture
def default_templates(django_db_blocker):
    """Transactional tests flush the database: make sure the seeded templates exist during the test
    and again for the tests that run after it (this fixture tears down after the flush)."""
    with django_db_blocker.unblock():
        seed_default_templates(NoticeTemplate)
    yield
    with django_db_blocker.unblock():
        seed_default_templates(NoticeTemplate)


@pytest.fixture(scope="session")
def _smtp_server_process():
    from tests.smtpserver import SMTPServer

    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_server_process, settings):
    """A real SMTP server on loopback (aiosmtpd), with Django's SMTP backend pointed at it."""
    _smtp_server_process.reset()
    for name, value in _smtp_server_process.django_settings().items():
        setattr(settings, name, value)
    yield _smtp_server_process
    _smtp_server_process.reset()
