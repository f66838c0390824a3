"""Analyst exports: CSV rows match the notices, ZIP of notices, summary, the command, the admin file."""

import csv
import io
import zipfile
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from disclosures import exports, selectors, services
from disclosures.models import DisclosureExport, Purpose
from disclosures.selectors import notice_content
from disclosures.services import exports as export_services

from .factories import (
    MarketingPartnerFactory,
    SameBrandAffiliateFactory,
    ServiceProviderFactory,
    at,
    customers,
    log,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def year_2025():
    """Customers with every kind of disclosure, including ones the CSV must leave out."""
    people = customers(6)
    a, b, c = (
        MarketingPartnerFactory(),
        MarketingPartnerFactory(legal_name="Zeta, Lists & Co"),
        MarketingPartnerFactory(),
    )
    same_brand = SameBrandAffiliateFactory()
    processor = ServiceProviderFactory()
    log(people[:4], a, "email", "name_and_address", when=at(2025, 2))
    log(people[2:5], b, "telephone_number", when=at(2025, 5))
    log(people[1], a, "payment_history", when=at(2025, 8))
    log(people[3:6], same_brand, "email", when=at(2025, 3))  # exempt (the sixth has nothing else)...
    log(people[4], same_brand, "ssn", when=at(2025, 4))  # ...this one: sensitive
    log(people, processor, "credit_card_number", purpose=Purpose.SERVICE_PROVISION, when=at(2025))
    log(people[0], c, "education", when=at(2024, 7))  # another year
    return people


def _rows_by_customer(data: bytes) -> dict[str, set[tuple[str, str]]]:
    grouped: dict[str, set[tuple[str, str]]] = defaultdict(set)
    reader = csv.DictReader(io.StringIO(data.decode()))
    assert reader.fieldnames == exports.CSV_HEADER
    for row in reader:
        assert row["year"] == "2025"
        grouped[row["customer_reference"]].add((row["recipient_name"], row["category_code"]))
    return grouped


def _notices_by_customer(people) -> dict[str, set[tuple[str, str]]]:
    expected = {}
    for person in people:
        rows = set(notice_content(subject_id=person.pk, year=2025).rows())
        if rows:
            expected[str(person.public_id)] = rows
    return expected


def _export(fmt="csv", **kwargs) -> bytes:
    out = io.BytesIO()
    services.write_export(year=2025, fmt=fmt, out=out, **kwargs)
    return out.getvalue()


def test_the_csv_export_rows_match_the_notices(year_2025):
    data = _export()
    assert _rows_by_customer(data) == _notices_by_customer(year_2025)
    lines = data.decode().splitlines()
    assert len(lines) - 1 == sum(len(v) for v in _notices_by_customer(year_2025).values())


def test_the_csv_is_ordered_by_customer_and_the_same_whatever_the_window(year_2025):
    whole = _export()
    assert _export(window=2) == whole
    references = [row[0] for row in csv.reader(io.StringIO(whole.decode()))][1:]
    by_pk = {str(p.public_id): p.pk for p in year_2025}
    assert [by_pk[r] for r in references] == sorted(by_pk[r] for r in references)


@pytest.mark.postgres
def test_copy_and_python_exports_write_the_same_rows(year_2025):
    """PostgreSQL streams the CSV with COPY; the portable path uses the notices' own logic. Same rows."""
    cards, business = selectors.third_party_cards(), selectors.business()
    copied, python = io.BytesIO(), io.BytesIO()
    exports.export_csv(year=2025, out=copied, cards=cards, business=business)
    exports.python_csv(year=2025, out=python, cards=cards, business=business, progress=None, window=3)
    copied_rows = list(csv.reader(io.StringIO(copied.getvalue().decode())))
    python_rows = list(csv.reader(io.StringIO(python.getvalue().decode())))
    assert copied_rows[0] == exports.CSV_HEADER
    assert copied_rows[1:] == python_rows and len(python_rows) > 10


def test_the_zip_holds_one_notice_per_customer_and_a_summary(year_2025):
    archive = zipfile.ZipFile(io.BytesIO(_export("zip", notice_format="txt")))
    names = set(archive.namelist())
    customers_with_marketing = {str(p.public_id) for p in year_2025}  # the sixth: exempt affiliate only
    assert names == {f"notices-2025/{ref}.txt" for ref in customers_with_marketing} | {
        "notices-2025/summary.csv"
    }
    for person in year_2025[:5]:
        text = archive.read(f"notices-2025/{person.public_id}.txt").decode()
        for name, _code in notice_content(subject_id=person.pk, year=2025).rows():
            assert name in text
    sixth = archive.read(f"notices-2025/{year_2025[5].public_id}.txt").decode()
    assert "did not disclose your personal information" in sixth and "In addition, 1 affiliate" in sixth
    pdfs = zipfile.ZipFile(io.BytesIO(_export("zip", notice_format="pdf")))
    assert all(pdfs.read(n).startswith(b"%PDF") for n in pdfs.namelist() if n.endswith(".pdf"))


def test_the_summary_counts_customers_per_recipient_and_category(year_2025):
    summary = exports.export_summary(year=2025, cards=selectors.third_party_cards())
    counted = {(r.recipient_name, r.category_code): r.customers for r in summary.rows}
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for rows in _notices_by_customer(year_2025).values():
        for row in rows:
            expected[row] += 1
    assert counted == expected
    assert summary.customers == 5 and summary.exempt_only_customers == 1
    zipped = zipfile.ZipFile(io.BytesIO(_export("zip", notice_format="txt")))
    assert zipped.read("notices-2025/summary.csv").decode() == summary.as_csv()


def test_the_command_writes_the_file_prints_the_summary_and_is_audited(year_2025, tmp_path):
    target = tmp_path / "out.csv"
    stdout = io.StringIO()
    call_command("export_1798_83", year=2025, output=str(target), no_progress=True, stdout=stdout)
    assert _rows_by_customer(target.read_bytes()) == _notices_by_customer(year_2025)
    printed = stdout.getvalue()
    assert "Summary 2025: 5 customers" in printed and "Zeta, Lists & Co" in printed
    assert AuditEvent.objects.filter(action="disclosures.export_written", details__format="csv").exists()
    zipped = tmp_path / "out.zip"
    call_command(
        "export_1798_83", year=2025, format="zip", notice_format="html", output=str(zipped), no_progress=True,
        no_summary=True, stdout=io.StringIO(),
    )  # fmt: skip
    assert len(zipfile.ZipFile(zipped).namelist()) == 7  # six customers and the summary


def test_an_admin_export_is_built_into_an_unguessable_file_and_expires(
    year_2025, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(year=2025, fmt="csv", actor="analyst")
    export.refresh_from_db()
    assert export.status == DisclosureExport.Status.READY
    path = services.export_file_path(export)
    assert path.parent == media_root / "exports" and len(path.stem) >= 43
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert _rows_by_customer(path.read_bytes()) == _notices_by_customer(year_2025)
    assert export.row_count == sum(len(v) for v in _notices_by_customer(year_2025).values())
    assert services.export_build(export_id=export.pk).file_name == export.file_name  # idempotent
    DisclosureExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.exports_purge_expired() == 1
    assert not path.exists()
    assert DisclosureExport.objects.get(pk=export.pk).status == DisclosureExport.Status.EXPIRED


def test_a_failed_build_leaves_no_file_and_can_be_retried(
    year_2025, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_services, "write_export", broken)  # where export_build looks it up
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        services.export_request(year=2025, fmt="csv", actor="analyst")
    export = DisclosureExport.objects.get()
    assert export.status == DisclosureExport.Status.FAILED and export.error == "RuntimeError"
    assert list((media_root / "exports").iterdir()) == []
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.export_retry(export_id=export.pk, actor="analyst")
    assert DisclosureExport.objects.get().status == DisclosureExport.Status.READY


def test_an_empty_year_exports_only_the_header():
    assert _export().decode() == ",".join(exports.CSV_HEADER) + "\n"
    assert connection.vendor in {"postgresql", "sqlite"}


@pytest.mark.postgres
def test_the_sql_summary_equals_the_summary_of_the_notices(year_2025, monkeypatch):
    cards = selectors.third_party_cards()
    in_sql = exports.export_summary(year=2025, cards=cards)
    monkeypatch.setattr(exports, "_is_postgres", lambda: False)
    assert exports.export_summary(year=2025, cards=cards) == in_sql
