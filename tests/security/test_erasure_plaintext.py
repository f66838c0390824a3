"""Erasure leaves no plaintext: after a subject with records everywhere is erased through the DSAR path,
neither a pg_dump of the database nor the Redis keyspace holds their name, emails, phone, address,
survey answer or payment reference, except in records the erasure certificate lists as kept under a
legal exception. A dump taken before the erasure must show every value (so the test can fail).
"""

import time

import pytest
import redis
from django.utils import timezone

import notices.tasks  # noqa: F401 - registered before the worker finalizes the Celery app
import requests_app.tasks  # noqa: F401
from consent.models import Channel
from disclosures import services as disclosures
from notices.models import Notice, NoticeStatus
from requests_app.models import PrivacyRequest, Regime, RequestType, Status
from requests_app.services import request_fulfil, request_verify_manually
from retention.models import ErasureCertificate
from tests.conftest import redis_url
from tests.consent.factories import grant, withdraw
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import make_full_subject
from tests.requests_app.factories import make_case

from .dumps import model_label_of, pg_dump_tables
from .scan import find, needles, redis_blobs
from .world import JANE, JANE_ANSWER, JANE_PAYMENT, OFFICER, make_role_user


def _wait(check, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _all_sent() -> bool:
    return (
        Notice.objects.exists()
        and not Notice.objects.exclude(status__in=[NoticeStatus.SENT, NoticeStatus.CANCELLED]).exists()
    )


def _hits_by_model(tables: dict[str, str], wanted: list[str]) -> dict[str, list[tuple[str, str]]]:
    found = {}
    for table, data in tables.items():
        hits = find([data], wanted)
        if hits:
            found[model_label_of(table)] = hits
    return found


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_erased_subject_leaves_no_plaintext_in_the_database_or_redis(celery_worker, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path
    officer = make_role_user(OFFICER)

    jane = make_full_subject(**JANE)  # a record in every category
    grant(
        jane,
        "marketing_email",
        evidence={"form_id": "footer", "ip": "203.0.113.77", "note": f"typed {JANE['email']}"},
    )
    withdraw(
        jane, "marketing_email", channel=Channel.PHONE, evidence={"note": f"Called from {JANE['phone']}"}
    )
    log([jane], MarketingPartnerFactory(), "name_and_address", "email", "telephone_number")
    disclosures.notice_1798_83_deliver(subject_id=jane.pk, year=timezone.now().year - 1)
    case = make_case(
        request_type=RequestType.ERASURE,
        regime=Regime.CCPA,
        subject_email=JANE["email"],
        subject_name=JANE["name"],
        subject_phone=JANE["phone"],
        subject_postal_address=JANE["postal_address"],
    )
    assert case.subject_id == jane.pk
    _wait(_all_sent, "the notices (acknowledgement, verification, opt-out confirmation, §1798.83)")
    sent_before = Notice.objects.count()

    wanted = needles(JANE, JANE_ANSWER, JANE_PAYMENT.format(pk=jane.pk))
    before = _hits_by_model(pg_dump_tables(), wanted)
    seen = {needle for hits in before.values() for needle, _ in hits}
    # Control: the subject's name, email, phone and address are all in the database before the erasure,
    # so the same search after it can fail. The survey answer and payment reference are sealed: their
    # plaintext is never in the database, before or after.
    assert {v.lower() for v in JANE.values()} <= seen, sorted({v.lower() for v in JANE.values()} - seen)
    assert not seen & {JANE_ANSWER.lower(), JANE_PAYMENT.format(pk=jane.pk).lower()}
    assert {
        "inventory.DataSubject",
        "inventory.ContactPoint",
        "notices.Notice",
        "requests_app.PrivacyRequest",
    } <= set(before), sorted(before)

    # The DSAR erasure path: the officer verifies the requester and fulfils the case (erasure waits for
    # an officer's review of holds); the worker erases and sends the confirmation.
    request_verify_manually(case=case, method="phone", level="high", reason="Called back", actor=officer)
    request_fulfil(case=PrivacyRequest.objects.get(pk=case.pk), actor=officer)
    _wait(lambda: PrivacyRequest.objects.filter(pk=case.pk, status=Status.COMPLETED).exists(), "the erasure")
    _wait(lambda: _all_sent() and Notice.objects.count() > sent_before, "the erasure confirmation")
    certificate = ErasureCertificate.objects.get(case_reference=str(case.reference))
    kept_models = {row["model"] for row in certificate.summary.get("kept", [])}

    after = _hits_by_model(pg_dump_tables(), wanted)
    leaks = {model: hits for model, hits in after.items() if model not in kept_models}
    assert not leaks, "\n".join(f"{m}: {h[:3]}" for m, h in leaks.items())
    blobs = list(redis_blobs(redis.Redis.from_url(redis_url())))
    assert blobs, "the worker used Redis"
    assert not find(blobs, wanted)
    print(
        f"erasure: {len(before)} tables held plaintext before, {len(after)} after; kept: {sorted(kept_models)}"
    )
