"""Access/portability package: every category of the subject's data, none of another subject's,
encrypted at rest, expiring single-purpose download link, downloads audited."""

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlparse

import pytest
import time_machine

from audit.models import AuditEvent
from inventory.registry import registry
from requests_app import services
from requests_app.models import AccessPackage, PrivacyRequest, Regime, RequestType, Status, VerificationLevel
from tests.factories import make_full_subject

from .factories import make_case


def _verify(case, officer):
    services.request_verify_manually(
        case=case, method="phone", level=VerificationLevel.HIGH, reason="Called back; 3 points + declaration",
        actor=officer,
    )  # fmt: skip


@pytest.fixture
def alice_and_bob():
    alice = make_full_subject(email="alice@example.com", name="Alice Liddell")
    bob = make_full_subject(email="bob@example.com", name="Bob Builder")
    return alice, bob


def _download(client, outbox) -> tuple[object, bytes]:
    url = outbox.last("request_completed")["context"]["download_url"]
    path = urlparse(url).path
    return client.post(path), path


@pytest.mark.django_db
def test_package_holds_every_category_of_the_subject_and_nothing_of_another(
    alice_and_bob, officer, client, outbox, django_capture_on_commit_callbacks
):
    alice, bob = alice_and_bob
    case = make_case(
        request_type=RequestType.ACCESS, subject_email="alice@example.com", subject_name="Alice Liddell"
    )
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    package = AccessPackage.objects.get(case=case)

    response, _ = _download(client, outbox)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"README.txt", "manifest.json"} <= names
    expected_categories = {e.category for e in registry}
    assert set(package.categories) == expected_categories
    for entry in registry:
        if entry.model._meta.app_label == "inventory":
            assert f"{entry.category}/{entry.label}.json" in names
            assert f"{entry.category}/{entry.label}.csv" in names

    everything = "".join(archive.read(n).decode() for n in names)
    assert "alice@example.com" in everything
    assert "Inventory counts, says Alice Liddell" in everything  # sealed survey answer, opened
    assert f"tok_{alice.pk}_visa" in everything  # sealed payment reference, opened
    assert "1980-05-17" in everything  # sealed date of birth
    for marker in ("bob@example.com", "Bob Builder", f"ck-{bob.pk}", f"tok_{bob.pk}_visa"):
        assert marker not in everything

    subject_rows = json.loads(archive.read("contact/inventory.DataSubject.json"))
    assert len(subject_rows) == 1 and subject_rows[0]["email"] == "alice@example.com"
    readme = archive.read("README.txt").decode()
    for heading in ("CATEGORIES", "SOURCES", "RECIPIENTS", "Why we use it", "How long we keep it",
                    "supervisory authority"):  # fmt: skip
        assert heading in readme
    assert "Cookies and flash cookies" in readme  # a source name, not an id


@pytest.mark.django_db
def test_package_is_encrypted_at_rest_under_its_own_key(
    alice_and_bob, officer, outbox, django_capture_on_commit_callbacks
):
    case = make_case(request_type=RequestType.PORTABILITY, subject_email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    package = AccessPackage.objects.get(case=case)
    raw = services.package_path(package).read_bytes()
    assert not raw.startswith(b"PK")
    assert b"alice@example.com" not in raw
    assert package.wrapped_key and package.sha256


@pytest.mark.django_db
def test_downloads_are_audited_limited_and_expire(alice_and_bob, officer, client, outbox, settings,
                                                   django_capture_on_commit_callbacks):  # fmt: skip
    settings.REQUESTS_PACKAGE_MAX_DOWNLOADS = 2
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    first, path = _download(client, outbox)
    assert first.status_code == 200
    assert client.get(path).status_code == 200  # GET shows a button; does not count
    assert client.post(path).status_code == 200
    assert client.post(path).status_code == 410
    assert AccessPackage.objects.get(case=case).download_count == 2
    assert case.events.filter(kind="download").count() == 2
    assert AuditEvent.objects.filter(action="request.download", subject_id=case.subject_id).count() == 2

    with time_machine.travel(datetime.now(UTC) + timedelta(days=15)):
        assert client.post(path).status_code == 410


@pytest.mark.django_db
def test_expired_packages_are_purged_key_and_file(
    alice_and_bob, officer, outbox, django_capture_on_commit_callbacks
):
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    package = AccessPackage.objects.get(case=case)
    path = services.package_path(package)
    with (
        time_machine.travel(datetime.now(UTC) + timedelta(days=15)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.packages_purge_expired() == 1
    package.refresh_from_db()
    assert package.wrapped_key == "" and package.purged_at is not None
    assert not path.exists()


@pytest.mark.django_db
def test_ccpa_package_covers_the_preceding_twelve_months(officer, outbox, django_capture_on_commit_callbacks):
    from inventory.models import ActivityEvent, System
    from inventory.services import record_create

    with time_machine.travel(datetime(2024, 1, 10, tzinfo=UTC), tick=False):
        subject = make_full_subject(email="carol@example.com")
    record_create(
        model=ActivityEvent,
        subject=subject,
        values={
            "kind": "page_view",
            "target": "/recent-page",
            "system": System.objects.get(code="privacyops"),
        },
    )
    case = make_case(request_type=RequestType.ACCESS, regime=Regime.CCPA, subject_email="carol@example.com")
    assert case.lookback_from is not None
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    response = services.package_open(
        token=urlparse(outbox.last("request_completed")["context"]["download_url"])
        .path.rstrip("/")
        .split("/")[-1]
    )
    archive = zipfile.ZipFile(io.BytesIO(response[1]))
    activity = json.loads(archive.read("activity/inventory.ActivityEvent.json"))
    assert [a["target"] for a in activity] == ["/recent-page"]


@pytest.mark.django_db
def test_another_packages_token_cannot_be_forged(client):
    from django.core import signing

    forged = signing.dumps({"p": "00000000-0000-0000-0000-000000000000"}, salt="requests_app.verify")
    assert client.post(f"/requests/download/{forged}/").status_code == 400
    assert PrivacyRequest.objects.count() == 0


@pytest.mark.django_db
def test_erasing_the_subject_destroys_their_packages_through_the_erasure_hook(
    alice_and_bob, officer, client, outbox, django_capture_on_commit_callbacks
):
    from inventory.hooks import run_before_subject_erasure

    alice, _bob = alice_and_bob
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    _, path = _download(client, outbox)
    with django_capture_on_commit_callbacks(execute=True):
        run_before_subject_erasure(subject_id=alice.pk)
    package = AccessPackage.objects.get(case=case)
    assert package.wrapped_key == "" and not services.package_path(package).exists()
    assert client.post(path).status_code == 410


@pytest.mark.django_db
def test_readme_names_the_recipients_that_received_the_data(
    officer, outbox, django_capture_on_commit_callbacks
):
    from disclosures.models import Purpose
    from inventory import models as inv
    from inventory.services import record_create
    from tests.disclosures.factories import MarketingPartnerFactory, log
    from tests.factories import ThirdPartyFactory

    host = ThirdPartyFactory(legal_name="Hosting Co", kind="service_provider")
    system = inv.System.objects.create(
        code="hostco", name="HostCo", kind="external", owner="IT", provider=host
    )
    alice = make_full_subject(email="alice@example.com")
    record_create(model=inv.ActivityEvent, subject=alice, values={"kind": "page_view", "system": system})
    log(
        alice,
        MarketingPartnerFactory(legal_name="Catalogue Partner LLC"),
        "email",
        purpose=Purpose.DIRECT_MARKETING,
    )
    ThirdPartyFactory(legal_name="Unrelated Vendor")
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    _, data = services.package_open(
        token=urlparse(outbox.last("request_completed")["context"]["download_url"])
        .path.rstrip("/")
        .split("/")[-1]
    )
    readme = zipfile.ZipFile(io.BytesIO(data)).read("README.txt").decode()
    assert "Hosting Co" in readme and "Catalogue Partner LLC" in readme
    assert "Unrelated Vendor" not in readme


@pytest.mark.django_db
def test_the_package_leaves_out_credentials_tokens_keys_mail_headers_and_staff_names(
    alice_and_bob, officer, django_capture_on_commit_callbacks
):
    """Issue 14 item 11: fields the registry marks "never exported" are not in any file of the package."""
    from inventory import models as inv

    alice, _ = alice_and_bob
    inv.UserAccount.objects.filter(subject=alice).update(password_hash="pbkdf2_sha256$600000$salt$secret")
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    services.request_note_add(case=case, note="Called the requester", actor=officer)  # a staff-stamped event
    with django_capture_on_commit_callbacks(execute=True):
        _verify(case, officer)
    package = AccessPackage.objects.get(case=case)
    _, data = services.package_open(token=services.package_link(package).rsplit("/", 2)[-2])
    archive = zipfile.ZipFile(io.BytesIO(data))
    keys: set[str] = set()
    for name in archive.namelist():
        if name.endswith(".json") and name != "manifest.json":
            for row in json.loads(archive.read(name)):
                keys.update(row)
    everything = "".join(archive.read(n).decode() for n in archive.namelist())
    assert not keys & {"password_hash", "idempotency_key", "headers", "claim_token", "actor_label",
                       "client_event_id", "assignee", "requested_by", "created_by"}  # fmt: skip
    assert "pbkdf2_sha256" not in everything and "olivia" not in everything
    assert {"username", "email", "summary"} <= keys  # the person's own data is still there


@pytest.mark.django_db
def test_a_package_built_while_an_erasure_runs_is_never_published(alice_and_bob, officer):
    """Issue 14 item 9: the erasure commits mid-build (here from the build's own heartbeat); the package
    row is then written under the subject's lock, sees the new erasure and is refused, file removed."""
    from django.core.exceptions import ValidationError

    from retention.services import erase_subject

    alice, _ = alice_and_bob
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    erased = []

    def erase_meanwhile():
        if not erased:
            erased.append(erase_subject(subject_id=alice.pk, reason="Concurrent erasure", actor="test"))

    from inventory.crypto import KeyDestroyed

    # Refused at the write (the subject lock sees the new erasure), or earlier when the build next opens a
    # value sealed under the key the erasure destroyed: either way nothing is published.
    with pytest.raises((ValidationError, KeyDestroyed)):
        services.access_package_build(case=case, actor=officer, heartbeat=erase_meanwhile)
    assert erased and not AccessPackage.objects.filter(case=case).exists()
    from requests_app import conf

    assert list(conf.package_dir().iterdir()) == []


@pytest.mark.django_db
def test_a_package_finished_before_the_erasure_is_destroyed_by_it(alice_and_bob, officer):
    from retention.services import erase_subject

    alice, _ = alice_and_bob
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    package = services.access_package_build(case=case, actor=officer)
    erase_subject(subject_id=alice.pk, reason="Erasure after the build", actor="test")
    package.refresh_from_db()
    assert package.purged_at is not None and package.wrapped_key == ""


@pytest.mark.django_db
def test_a_package_built_while_a_partial_erasure_runs_is_refused_under_the_subject_lock(
    alice_and_bob, officer
):
    """Item 9 when the key survives (a hold keeps one category): only the lock-and-compare stops it."""
    from django.core.exceptions import ValidationError

    from retention.services import erase_subject, legal_hold_place

    alice, _ = alice_and_bob
    legal_hold_place(subject_id=alice.pk, category="activity", reason="Dispute", owner="Legal")
    case = make_case(request_type=RequestType.ACCESS, subject_email="alice@example.com")
    erased = []

    def erase_meanwhile():
        if not erased:
            erased.append(erase_subject(subject_id=alice.pk, reason="Concurrent erasure", actor="test"))

    with pytest.raises(ValidationError, match="erased while the package was being built"):
        services.access_package_build(case=case, actor=officer, heartbeat=erase_meanwhile)
    assert erased and not AccessPackage.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_a_package_re_checks_its_subjects_key_once_not_once_per_sealed_value(monkeypatch):
    """With the shared (Redis) key epoch every re-check is a round trip (issue 19)."""
    from inventory import crypto
    from requests_app.packages import package_contents

    subject = make_full_subject()
    checks = []
    real = crypto.ensure_live
    monkeypatch.setattr(crypto, "ensure_live", lambda keys: checks.append(1) or real(keys))
    contents = package_contents(subject_id=subject.pk, reference="t", generated_at=datetime.now(UTC))
    with zipfile.ZipFile(io.BytesIO(contents.data)) as archive:
        accounts = json.loads(archive.read("account/inventory.UserAccount.json"))
    assert accounts[0]["payment_method_reference"] == f"tok_{subject.pk}_visa"  # sealed values opened
    assert len(checks) == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_package_reads_what_it_names_in_one_round_trip():
    """Issue 19: the names of the sources and systems the records point at, the categories, the retention
    schedules and the recipients come in one batch, not a query (and an ORM compile) per model and README
    section. Django logs two statements: discovery's one and that batch (the data key is read on
    psycopg's own cursor)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory import models as inv
    from inventory.services import record_create
    from requests_app.packages import package_contents
    from retention.models import RetentionSchedule
    from tests.disclosures.factories import MarketingPartnerFactory, log
    from tests.factories import ThirdPartyFactory

    host = ThirdPartyFactory(legal_name="Hosting Co", kind="service_provider")
    system = inv.System.objects.create(
        code="hostco", name="HostCo", kind="external", owner="IT", provider=host
    )
    RetentionSchedule.objects.create(
        category=inv.DataCategory.objects.get(code="activity"), system=system, external_collection="events",
        external_timestamp_field="seen_at", period_months=6, legal_basis="Analytics", citation="Policy §8",
    )  # fmt: skip
    subject = make_full_subject()
    record_create(model=inv.ActivityEvent, subject=subject, values={"kind": "page_view", "system": system})
    log(subject, MarketingPartnerFactory(legal_name="Catalogue Partner LLC"), "email")
    with CaptureQueriesContext(connection) as queries:
        contents = package_contents(subject_id=subject.pk, reference="t", generated_at=datetime.now(UTC))
    assert len(queries) == 2, [q["sql"][:120] for q in queries]
    archive = zipfile.ZipFile(io.BytesIO(contents.data))
    readme = archive.read("README.txt").decode()
    assert "[activity] Website and email activity data" in readme
    assert "hostco:events: 6 months after seen_at (Policy §8)" in readme
    assert "Hosting Co (Service provider)" in readme and "Catalogue Partner LLC (Marketing partner)" in readme
    assert "  - Cookies and flash cookies\n" in readme  # a source's name
    activity = json.loads(archive.read("activity/inventory.ActivityEvent.json"))
    assert {a["system"] for a in activity} == {"HostCo", "privacyops database"}  # systems by name


@pytest.mark.django_db
def test_the_lookback_reads_when_a_record_was_collected_in_the_business_calendar(settings):
    """Collected 23:30 Pacific on 28 February (07:30 UTC on 1 March): before a lookback from 1 March."""
    from inventory.models import ActivityEvent, System
    from inventory.services import record_create
    from requests_app.packages import package_contents

    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    subject = make_full_subject(email="dora@example.com")
    ActivityEvent.objects.filter(subject=subject).delete()
    system = System.objects.get(code="privacyops")
    for target, at in (
        ("/eve-of-lookback", datetime(2026, 3, 1, 7, 30, tzinfo=UTC)),  # 28 Feb, 23:30 PST
        ("/first-day", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),  # 1 Mar, 00:30 PST
    ):
        with time_machine.travel(at, tick=False):
            record_create(model=ActivityEvent, subject=subject, values={"kind": "page_view", "target": target,
                                                                        "system": system})  # fmt: skip
    contents = package_contents(
        subject_id=subject.pk,
        reference="R-1",
        generated_at=datetime(2027, 2, 1, tzinfo=UTC),
        lookback_from=date(2026, 3, 1),
    )
    archive = zipfile.ZipFile(io.BytesIO(contents.data))
    activity = json.loads(archive.read("activity/inventory.ActivityEvent.json"))
    assert [a["target"] for a in activity] == ["/first-day"]
