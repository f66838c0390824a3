"""The erasure certificate as a printable document (issue 16): HTML and PDF with human text, no JSON dump,
no escaped characters; the admin page links to both."""

import pytest
from django.urls import reverse

from retention.services import erase_subject
from tests.factories import make_full_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate():
    return erase_subject(subject_id=make_full_subject().pk, reason="Erasure request", case_reference="c-1")


def test_printable_certificate_reads_as_text_not_json(admin_client, certificate):
    page = admin_client.get(reverse("admin:retention_erasurecertificate_print", args=[certificate.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Erasure certificate</h1>" in html and str(certificate.public_id) in html
    assert "\\u00a7" not in html and "{&quot;" not in html and '{"' not in html
    assert "Records erased" in html and "Subject&#x27;s key destroyed" in html
    assert '<th scope="row">Reason</th><td>Erasure request</td>' in html
    assert "True" not in html and "False" not in html  # Yes / No
    assert "@media print" in html


def test_certificate_pdf_downloads(admin_client, certificate):
    response = admin_client.get(reverse("admin:retention_erasurecertificate_pdf", args=[certificate.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_certificate_page_links_to_print_and_pdf_and_shows_no_escaped_section_sign(admin_client, certificate):
    page = admin_client.get(reverse("admin:retention_erasurecertificate_change", args=[certificate.pk]))
    html = page.content.decode()
    assert reverse("admin:retention_erasurecertificate_print", args=[certificate.pk]) in html
    assert reverse("admin:retention_erasurecertificate_pdf", args=[certificate.pk]) in html
    assert "\\u00a7" not in html
