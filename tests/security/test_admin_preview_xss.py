"""Template previews stay inside a script-less frame and the admin sends a CSP (issue 15 item 6)."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from notices.models import NoticeKind, NoticeTemplate

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<p class="greeting" title="a &quot;b">Hello</p>'
    '</iframe><img src=x onerror="alert(document.cookie)"><script>alert(1)</script>'
)


@pytest.fixture
def officer_client(client):
    user = User.objects.create_user(username="officer", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name="Privacy officer"))
    client.force_login(user)
    return client


def _hostile_template() -> NoticeTemplate:
    template = NoticeTemplate.objects.get(kind=NoticeKind.DEADLINE_EXTENDED, active=True)
    NoticeTemplate.objects.filter(pk=template.pk).update(body_html_template=HOSTILE)
    return template


def test_preview_frame_holds_the_whole_document_and_nothing_escapes_it(officer_client):
    template = _hostile_template()
    response = officer_client.get(reverse("admin:notices_noticetemplate_change", args=[template.pk]))
    assert response.status_code == 200
    page = response.text
    frames = re.findall(r'<iframe sandbox="" srcdoc="([^"]*)"', page)
    assert len(frames) == 1
    document = unescape(frames[0])
    # Not cut at the first double quote (the preview was blank): the whole laid-out document is there.
    assert HOSTILE in document and document.rstrip().endswith("</html>")
    # The page itself holds none of the template's markup as live HTML (only escaped, as text).
    assert "<img src=x onerror" not in page and "<script>alert(1)" not in page
    assert page.count("</iframe>") == 1


def test_admin_pages_send_a_content_security_policy_without_inline_script(officer_client):
    template = _hostile_template()
    urls = [
        reverse("admin:index"),
        reverse("admin:notices_noticetemplate_changelist"),
        reverse("admin:notices_noticetemplate_change", args=[template.pk]),
    ]
    policies = [officer_client.get(url)["Content-Security-Policy"] for url in urls]
    assert len(policies) == 3
    for policy in policies:
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'"  # inline handlers like onerror= are blocked
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"


def test_public_pages_keep_their_own_headers(client):
    assert "Content-Security-Policy" not in client.get("/requests/new/")
