"""Mail to an unverified address holds only what the requester typed; known and unknown subjects get
the same answer (issue 15 item 2)."""

import re

import pytest
from django.core import mail

from tests.factories import DataSubjectFactory

pytestmark = pytest.mark.django_db

ON_FILE = "Cordelia Onfile-Customer"


def _agent_request(client, capture, email: str) -> tuple[int, str, list[str]]:
    mail.outbox = []
    with capture(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "request_type": "access",
                "regime": "ccpa",
                "subject_email": email,
                "subject_name": "",
                "requester_kind": "agent",
                "requester_name": "Agent Smith",
                "requester_email": "agent@agency.example",
                "authority_document": "Signed permission",
            },
        )
    page = client.get(response["Location"]) if response.status_code == 302 else response
    return response.status_code, page.content.decode(), [m.body for m in mail.outbox]


def _shape(text: str) -> str:
    """The page or mail with what differs per case by design (reference, links, dates) blanked."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "X", text)
    text = re.sub(r"DSAR-\d{4}-\d+|[\w.\-]+:[\w\-]+:[\w\-]{27,}|[0-9a-f]{8}\b", "X", text)
    return re.sub(r"\d{4}-\d\d-\d\d|[A-Z][a-z]+ \d{1,2}, \d{4}", "D", text)


def test_an_agent_gets_no_name_on_file_and_the_same_answer_for_known_and_unknown_subjects(
    client, django_capture_on_commit_callbacks
):
    DataSubjectFactory(email="cordelia@example.org", name=ON_FILE)
    known = _agent_request(client, django_capture_on_commit_callbacks, "cordelia@example.org")
    unknown = _agent_request(client, django_capture_on_commit_callbacks, "nobody-here@example.org")
    assert known[0] == unknown[0] == 302
    assert len(known[2]) == len(unknown[2]) == 2  # acknowledgement + verification
    for body in known[2]:
        assert "Cordelia" not in body and "Agent Smith" in body
    assert _shape(known[1]) == _shape(unknown[1])  # status page
    assert [_shape(b) for b in known[2]] == [_shape(b) for b in unknown[2]]  # the mails
