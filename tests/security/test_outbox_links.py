"""No admin page shows staff a working signed link from the outbox; read-only roles see redacted bodies
(issue 15 item 1). The person's own email keeps working links."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.urls import reverse

from notices.models import Notice
from notices.redaction import LINK_MASK

pytestmark = pytest.mark.django_db

VICTIM = "victim.person@example.org"
SIGNED = re.compile(r"[\w.\-]+(?::|%3A)[\w\-]+(?:(?::|%3A)[\w\-]+)?(?::|%3A)[\w\-]{27,}", re.IGNORECASE)
ROLES = ["Privacy officer", "Analyst", "Auditor"]


def _staff_client(client, role: str):
    user = User.objects.create_user(username=role.lower().replace(" ", "_"), password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def _file_request_for_someone_else(client, capture) -> None:
    with capture(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "request_type": "access",
                "regime": "gdpr",
                "subject_email": VICTIM,
                "requester_kind": "subject",
            },
        )
    assert response.status_code == 302


def test_staff_reading_the_outbox_never_see_a_working_signed_link(client, django_capture_on_commit_callbacks):
    _file_request_for_someone_else(client, django_capture_on_commit_callbacks)
    notices = list(Notice.objects.order_by("pk"))
    stored_links = sum(len(SIGNED.findall(n.body_text or "")) for n in notices)
    assert len(notices) == 2 and stored_links >= 2  # acknowledgement + verification, each with links
    pages = 0
    for role in ROLES:
        staff = _staff_client(client, role)
        for notice in notices:
            page = staff.get(reverse("admin:notices_notice_change", args=[notice.pk]))
            assert page.status_code == 200, role
            assert SIGNED.findall(page.text) == [], (role, notice.kind)
            assert LINK_MASK in page.text
            pages += 1
    assert pages == 6  # 3 roles x 2 notices, 0 working links shown
    # The recipient's own copy still works.
    links = [
        m for msg in mail.outbox for m in re.findall(r"https?://[^/\s]+(/requests/verify/\S+/)", msg.body)
    ]
    assert len(links) == 1
    client.logout()
    assert client.get(links[0]).status_code == 200


@pytest.mark.parametrize(
    ("role", "shows_address"), [("Privacy officer", True), ("Analyst", False), ("Auditor", False)]
)
def test_analysts_and_auditors_see_redacted_bodies(
    client, django_capture_on_commit_callbacks, role, shows_address
):
    _file_request_for_someone_else(client, django_capture_on_commit_callbacks)
    notice = Notice.objects.order_by("pk").first()
    page = _staff_client(client, role).get(reverse("admin:notices_notice_change", args=[notice.pk]))
    assert (VICTIM in page.text) is shows_address
