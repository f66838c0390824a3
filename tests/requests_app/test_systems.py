"""Cases reach the company's other systems (connectors): erasure and access wait for every system,
a failure never shows as completed, an officer retries or waives, the case page shows each system."""

import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from django.urls import reverse

pytest.importorskip("retention.services", reason="retention app not merged into this branch yet")

from connectors import demo  # noqa: E402
from connectors.models import SystemRun  # noqa: E402
from connectors.services import connection_save, dataset_import, system_run_waive  # noqa: E402
from inventory.models import System  # noqa: E402
from requests_app import services  # noqa: E402
from requests_app.models import PrivacyRequest, RequestType, Status  # noqa: E402
from tests.factories import make_full_subject  # noqa: E402

from .factories import make_case  # noqa: E402


@pytest.fixture
def crm(db, tmp_path):
    """The demo CRM (SQLite) filled for Alice, connected with the shipped dataset."""
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    demo.create_schema(engine)
    demo.fill(
        engine,
        [
            {"email": "alice@example.com", "name": "Alice Liddell"},
            {"email": "bob@example.com", "name": "Bob"},
        ],
    )
    engine.dispose()
    system = System.objects.create(code="crm", name="CRM", kind="external", owner="Sales")
    connection_save(system=system, kind="sql", url=url, actor="test")
    dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor="test")
    return url


def _count(url, sql, **params):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        n = conn.execute(sa.text(sql), params).scalar_one()
    engine.dispose()
    return n


def _verified(officer, email, request_type):
    case = make_case(request_type=request_type, subject_email=email)
    services.request_verify_manually(
        case=case, method="phone", level="high", reason="Called back", actor=officer
    )
    return PrivacyRequest.objects.get(pk=case.pk)


@pytest.mark.django_db
def test_an_erasure_case_erases_in_the_other_system_before_it_completes(
    officer, crm, django_capture_on_commit_callbacks
):
    make_full_subject(email="alice@example.com", name="Alice Liddell")
    case = _verified(officer, "alice@example.com", RequestType.ERASURE)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    run = SystemRun.objects.get(case_id=case.pk)
    assert run.status == "done" and run.counts["tickets"] == 1
    assert _count(crm, "SELECT COUNT(*) FROM customers WHERE email = 'alice@example.com'") == 0
    assert _count(crm, "SELECT COUNT(*) FROM customers WHERE email = 'bob@example.com'") == 1


@pytest.mark.django_db
def test_a_failed_system_keeps_the_case_open_until_an_officer_waives_it(
    officer, crm, tmp_path, django_capture_on_commit_callbacks
):
    dead = System.objects.create(code="dead", name="Old shop", kind="external", owner="IT")
    connection_save(system=dead, kind="sql", url=f"sqlite:///{tmp_path / 'no' / 'x.db'}", actor="test")
    dataset_import(system=dead, text=demo.dataset_text().replace("fides_key: demo_crm", "fides_key: old_shop")
                   .replace("dataset: demo_crm", "dataset: old_shop"), actor="test")  # fmt: skip
    make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com", RequestType.ERASURE)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_fulfil(case=case, actor=officer)
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS  # never "completed" with a system failed
    assert "Waiting for 2 other system(s)" in case.stuck_reason  # the first attempt planned them
    run = SystemRun.objects.get(case_id=case.pk, system=dead)
    assert (
        run.status == "failed" and SystemRun.objects.get(case_id=case.pk, system__code="crm").status == "done"
    )
    with django_capture_on_commit_callbacks(execute=True):
        system_run_waive(run_id=run.pk, actor=officer, reason="Shop closed in 2023; database gone.")
    case.refresh_from_db()
    assert case.status == Status.COMPLETED


@pytest.mark.django_db
def test_an_access_package_holds_the_other_systems_rows(officer, crm, django_capture_on_commit_callbacks):
    from cryptography.fernet import Fernet

    from inventory import crypto
    from requests_app import conf

    make_full_subject(email="alice@example.com", name="Alice Liddell")
    with django_capture_on_commit_callbacks(execute=True):  # access is fulfilled as soon as verified
        case = _verified(officer, "alice@example.com", RequestType.ACCESS)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    package = case.packages.get() if hasattr(case, "packages") else case.accesspackage_set.get()
    key = crypto.master().decrypt(package.wrapped_key.encode())
    data = Fernet(key).decrypt((conf.package_dir() / package.file_name).read_bytes())
    archive = zipfile.ZipFile(io.BytesIO(data))
    customers = json.loads(archive.read("systems/crm/customers.json"))
    assert customers[0]["name"] == "Alice Liddell"
    assert "email (contact)" in archive.read("systems/crm/customers.csv").decode().splitlines()[0]
    manifest = json.loads(archive.read("manifest.json"))
    assert {"system": "CRM", "collection": "order_lines", "records": 4}.items() <= next(
        m for m in manifest["other_systems"] if m.get("collection") == "order_lines"
    ).items()


@pytest.mark.django_db
def test_the_case_page_shows_each_system_with_a_retry_button(officer, crm, tmp_path, client):
    from django.contrib.auth import get_user_model

    make_full_subject(email="alice@example.com")
    case = _verified(officer, "alice@example.com", RequestType.ERASURE)
    crm_system = System.objects.get(code="crm")
    SystemRun.objects.create(case_id=case.pk, system=crm_system, action="erasure", status="failed",
                             error="SystemUnavailable: the database did not answer")  # fmt: skip
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 16)
    client.force_login(root)
    page = client.get(reverse("admin:requests_app_privacyrequest_change", args=[case.pk]))
    assert page.status_code == 200
    assert b'data-system="crm" data-status="failed"' in page.content
    assert b"the database did not answer" in page.content
    run = SystemRun.objects.get(case_id=case.pk)
    assert reverse("admin:connectors_systemrun_retry_one", args=[run.pk]).encode() in page.content


@pytest.mark.django_db
def test_an_opt_out_case_unsubscribes_the_person_in_every_system_that_can(
    officer, django_capture_on_commit_callbacks
):
    from pathlib import Path

    import connectors
    from tests.connectors import fake_apis

    server, state, base = fake_apis.start()
    try:
        state.add_member("alice@example.com")
        system = System.objects.create(code="mailchimp", name="Mailchimp", kind="external", owner="Marketing")
        config = (Path(connectors.__file__).parent / "shipped" / "mailchimp.yml").read_text()
        secrets = {"api_key": fake_apis.MAILCHIMP_KEY, "list_id": "L1", "base_url": f"{base}/3.0"}
        connection_save(system=system, kind="http", config=config, secrets=secrets, actor="test")
        make_full_subject(email="alice@example.com")
        with django_capture_on_commit_callbacks(execute=True):  # opt-outs take effect at intake
            case = make_case(request_type=RequestType.OPT_OUT, subject_email="alice@example.com")
        case.refresh_from_db()
        assert case.status == Status.COMPLETED
        run = SystemRun.objects.get(case_id=case.pk, action="opt_out")
        assert run.status == "done"
        [member] = state.members.values()
        assert member["status"] == "unsubscribed"
    finally:
        server.shutdown()
        server.server_close()
