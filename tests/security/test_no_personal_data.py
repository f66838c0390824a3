"""Personal data stays where it belongs: not in Celery messages, results or anywhere in Redis, and not in
the admin's own change log (LogEntry) or the audit trail's text.

The Redis test drives representative tasks through a real worker (notice delivery, a retention sweep
fanned out into batches, an access-package build), records every message published on the way, then
reads the whole keyspace (every key of every type: queues, kombu bindings, unacked messages, results)
with the base64 bodies decoded. A control message carrying an address proves the scan would see one.
"""

import datetime as dt
import json
import re
import time

import pytest
import redis
from celery.signals import before_task_publish
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

# The worker runs tasks registered when the Celery app is finalized: import every task module the
# test triggers before that (other test modules get this for free from their own imports).
import notices.tasks  # noqa: F401
import requests_app.tasks  # noqa: F401
from audit.models import AuditEvent
from inventory import models as inv
from notices.models import Notice, NoticeKind, NoticeStatus
from notices.services import notice_enqueue
from requests_app.models import AccessPackage, FulfilmentAttempt, RequestType
from requests_app.services import request_verify_manually
from retention.models import SweepRun
from retention.tasks import sweep
from tests.conftest import redis_url
from tests.factories import make_full_subject
from tests.requests_app.factories import make_case
from tests.retention import factories as rf

from .scan import find, needles, redis_blobs, redis_keys_by_type
from .world import JANE, OFFICER, make_role_user

ANOTHER = {
    "name": "Zebediah Oakhampton",
    "email": "zebediah.oakhampton@example.org",
    "phone": "+44 20 7946 0958",
    "postal_address": "12 Wapping Wall, London E1W 3SS",
}


def _form_errors(response) -> str:
    return " ".join(
        re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    )


def _wait(check, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_task_messages_results_and_the_whole_redis_keyspace_hold_ids_only(celery_worker, settings, tmp_path):
    from privacyops.celery import app

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path
    published: list[dict] = []

    def record(sender=None, body=None, headers=None, **_):
        published.append({"task": sender, "body": body, "headers": headers})

    before_task_publish.connect(record, weak=False)
    try:
        jane = make_full_subject(**JANE)
        for days in (900, 800, 700):
            rf.activity(jane, timezone.now() - dt.timedelta(days=days))
        officer = make_role_user(OFFICER)

        # 1. A notice through the outbox: published on commit, delivered by the worker.
        with transaction.atomic():
            notice = notice_enqueue(
                kind=NoticeKind.REQUEST_ACKNOWLEDGED,
                idempotency_key="security:keyspace:ack",
                context={"reference": "DSAR-9", "request_type": "access", "regime": "the CCPA",
                         "received_on": "2026-03-01", "due_on": "2026-04-15"},
                subject=jane,
            )  # fmt: skip
        _wait(lambda: Notice.objects.filter(pk=notice.pk, status=NoticeStatus.SENT).exists(), "the notice")

        # 2. The daily sweep: plan, fan-out into batches, erase the expired activity.
        sweep.delay()
        run = _wait(lambda: SweepRun.objects.exclude(status=SweepRun.Status.RUNNING).first(), "the sweep")
        assert run.status == SweepRun.Status.DONE

        # 3. An access request, verified: the worker builds the package and the completion notice goes out.
        case = make_case(
            request_type=RequestType.ACCESS, subject_email=JANE["email"], subject_name=JANE["name"]
        )
        request_verify_manually(case=case, method="phone", level="basic", reason="Called back", actor=officer)
        _wait(lambda: AccessPackage.objects.filter(case=case).exists(), "the access package")
        _wait(
            lambda: (
                not FulfilmentAttempt.objects.filter(case=case).exclude(state="succeeded").exists()
                and not Notice.objects.exclude(status=NoticeStatus.SENT).exists()
            ),
            "every notice sent",
        )
        # A control: a message that does carry an address, parked in a queue no worker reads.
        app.send_task("security.never_consumed", args=[ANOTHER["email"]], queue="security-parked")
    finally:
        before_task_publish.disconnect(record)

    wanted = needles()
    tasks = sorted({m["task"] for m in published})
    assert {"notices.deliver_notice", "retention.sweep", "retention.sweep_batch",
            "requests_app.run_fulfilment"} <= set(tasks), tasks  # fmt: skip
    ours = [m for m in published if m["task"] != "security.never_consumed"]
    leaks = find((json.dumps(m, default=str) for m in ours), wanted)
    assert not leaks, leaks
    for message in ours:  # arguments are ids (integers) only
        args, kwargs, _embed = message["body"]
        assert all(isinstance(a, int) for a in [*args, *kwargs.values()]), message

    client = redis.Redis.from_url(redis_url())
    blobs = list(redis_blobs(client))
    assert find(blobs, needles(ANOTHER)), "the scan must see an address inside a queued message"
    client.delete("security-parked")
    blobs = list(redis_blobs(client))
    types = redis_keys_by_type(client)
    assert types.get("string", 0) >= len(ours) // 2  # task results are there (and were scanned)
    assert not find(blobs, wanted), find(blobs, wanted)[:5]
    print(
        f"keyspace: {len(published)} messages published, {sum(types.values())} keys {types}, {len(blobs)} values"
    )


@pytest.mark.django_db
def test_admin_change_log_and_audit_trail_never_hold_names_or_emails(settings):
    """Officers add and edit subjects and their records in the admin: LogEntry keeps each row's str()
    and a change message; the audit trail keeps details. Neither may carry the person's data."""
    settings.OTP_ADMIN_REQUIRED = False
    client = Client()
    client.force_login(make_role_user(OFFICER))
    now = timezone.now()
    added = client.post(
        reverse("admin:inventory_datasubject_add"),
        {"kind": "person", "name": JANE["name"], "email": JANE["email"], "phone": JANE["phone"],
         "postal_address": JANE["postal_address"], "company": "Roe Vineyards", "role": "Owner",
         "country": "US", "region": "CA", "birth_date": "1961-02-03"},
    )  # fmt: skip
    assert added.status_code == 302, _form_errors(added)
    jane = inv.DataSubject.objects.get(email=JANE["email"])
    changed = client.post(
        reverse("admin:inventory_datasubject_change", args=[jane.pk]),
        {"kind": "person", "name": ANOTHER["name"], "email": ANOTHER["email"], "phone": ANOTHER["phone"],
         "postal_address": ANOTHER["postal_address"], "company": "Roe Vineyards", "role": "Owner",
         "country": "US", "region": "CA"},
    )  # fmt: skip
    assert changed.status_code == 302, _form_errors(changed)
    system, source = inv.System.objects.get(code="privacyops"), inv.Source.objects.get(code="website")
    common = {"subject": jane.pk, "system": system.pk, "source": source.pk,
              "collected_at_0": now.date().isoformat(), "collected_at_1": "10:00:00"}  # fmt: skip
    records = [
        ("contactpoint", {"kind": "email", "value": JANE["email"].replace("@", ".work@")}),
        ("contactpoint", {"kind": "postal", "value": JANE["postal_address"]}),
        ("companyaffiliation", {"company_name": "Roe Vineyards", "job_title": f"Owner ({JANE['name']})"}),
        ("useraccount", {"username": JANE["email"]}),
    ]
    for model, values in records:
        response = client.post(reverse(f"admin:inventory_{model}_add"), {**common, **values})
        assert response.status_code == 302, (model, _form_errors(response))
    contact = inv.ContactPoint.objects.filter(subject=jane).first()
    response = client.post(
        reverse("admin:inventory_contactpoint_change", args=[contact.pk]),
        {**common, "kind": "email", "value": ANOTHER["email"]},
    )
    assert response.status_code == 302
    hold = client.post(
        reverse("admin:retention_legalhold_add"),
        {"subject": jane.pk, "exception_code": "art17_3_e", "reason": "Dispute with the subject",
         "owner": "", "case_reference": ""},
    )  # fmt: skip
    assert hold.status_code == 302, _form_errors(hold)

    entries = list(LogEntry.objects.values_list("object_repr", "change_message"))
    assert len(entries) == 8
    wanted = needles(JANE) + needles(ANOTHER)
    assert not find((f"{r} | {m}" for r, m in entries), wanted), entries
    details = [json.dumps([e.action, e.details, str(e)], default=str) for e in AuditEvent.objects.all()]
    assert len(details) >= 8
    assert not find(details, wanted), find(details, wanted)[:5]


def test_every_task_of_every_app_takes_ids_and_numbers_only():
    """Not only the tasks driven above: every task any app defines is called with integers."""
    import inspect

    from privacyops.celery import app
    from privacyops.discovery import DOMAIN_APPS, app_module

    for label in DOMAIN_APPS:
        app_module(label, "tasks")
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert len(ours) >= 15, sorted(ours)
    for name, task in ours.items():
        for param in inspect.signature(task.run).parameters.values():
            assert param.annotation in (int, "int"), (name, param.name, param.annotation)
