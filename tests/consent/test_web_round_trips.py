"""What one website choice costs (issue 18's benchmark goal): database round trips, cache round trips.

The counts are taken on the wire (libpq's trace of the messages it sends): every round trip, including
those that bypass Django's query log (server-side bound arrays, the prepared ledger statement run on
libpq directly) and psycopg's own BEGIN/COMMIT, so a new round trip on the hot path fails here before it
shows in bench/web_consent.py.
"""

import json
import os
import tempfile
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
import redis
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import verify_chain
from consent import web_selectors
from consent.models import (
    ConsentEvent,
    ConsentState,
    Purpose,
    ReconsentRequest,
    SuppressedAddress,
    WebChoice,
    WebDevice,
)
from consent.services import web_choice_record, web_device_link_person, web_ids, web_store
from consent.suppression import email_hmac
from consent.web_selectors import CONFIG_VERSION_KEY, web_banner
from core import ratelimit
from core.ratelimit import window_count
from inventory import crypto
from inventory.models import DataKey, DataSubject
from inventory.selectors import records_for_subject
from inventory.services import subject_create
from tests.conftest import redis_url
from tests.consent.factories import published_policy
from tests.factories import DataSubjectFactory

ORIGIN = "https://www.example.com"
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Inside the test's transaction the choice's own transaction is a SAVEPOINT/RELEASE pair (2 round trips);
# in production a return visit's is BEGIN/COMMIT, and a first visit has none: its one statement runs in
# autocommit (test_a_first_visit_is_one_autocommit_statement).
FIRST_VISIT_ROUND_TRIPS = 3  # + subject/key/device/events/WebChoice/fold/audit append, ids drawn ahead
# + device/states locked/ledger ids/wrapped key/"any address suppressed"/"any re-consent request open",
# events/WebChoice/fold/audit append
RETURN_VISIT_ROUND_TRIPS = 4


@pytest.fixture(autouse=True)
def _web_settings(settings):
    settings.CONSENT_WEB_ALLOWED_ORIGINS = [ORIGIN]
    settings.CONSENT_WEB_RATE_LIMIT = (1000, 60)
    caches["default"].clear()


def _choose(client, choices, *, device_id=""):
    body = {"choices": choices, "banner_sha256": web_banner(region="DE").sha256}
    if device_id:
        body["device_id"] = device_id
    response = client.post(
        reverse("consent:web-choice"),
        data=json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="203.0.113.77",
        HTTP_ORIGIN=ORIGIN,
        HTTP_CF_IPCOUNTRY="DE",
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/130",
    )
    assert response.status_code == 200, response.content
    return response.json()


@contextmanager
def wire():
    """The messages this connection's libpq sends while the block runs (PQtrace): each round trip ends
    with a Query (simple protocol: BEGIN, COMMIT, SAVEPOINT...) or a Sync (a statement with parameters)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sent: list[list[str]] = []
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(os.dup(trace.fileno()))
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            yield sent
        finally:
            pgconn.untrace()  # flushes
            trace.seek(0)
            sent += [
                line.split("\t") for line in trace.read().decode().splitlines() if line.startswith("F\t")
            ]


def _round_trips(sent: list[list[str]]) -> list[str]:
    return ["\t".join(message) for message in sent if message[2] in ("Query", "Sync")]


def test_a_first_visit_and_a_return_visit_choice_cost_a_pinned_number_of_round_trips():
    published_policy()
    client = Client()
    warm = _choose(client, {"analytics": True})  # this process's copy of purposes, banners, policy
    _choose(client, {"analytics": False}, device_id=warm["device_id"])  # and both statements prepared
    with wire() as sent:
        first = _choose(client, {"analytics": True, "advertising": False, "widgets": False})
    trips = _round_trips(sent)
    assert len(trips) <= FIRST_VISIT_ROUND_TRIPS, "\n".join(trips)
    with wire() as sent:
        again = _choose(
            client, {"analytics": False, "advertising": True, "widgets": False}, device_id=first["device_id"]
        )
    trips += _round_trips(sent)
    assert len(trips) <= FIRST_VISIT_ROUND_TRIPS + RETURN_VISIT_ROUND_TRIPS, "\n".join(trips)
    # and the statements did the whole job: three events each, the state the reply shows
    assert len(first["receipts"]) == len(again["receipts"]) == 3
    assert again["choices"] == {"necessary": True, "analytics": False, "advertising": True, "widgets": False}
    assert ConsentEvent.objects.filter(public_id__in=first["receipts"] + again["receipts"]).count() == 6
    assert not any("consent_purpose" in t or "consent_policyversion" in t for t in trips)


def _xmins(device: WebDevice) -> set[str]:
    """The ids of the transactions that wrote a device's rows (PostgreSQL's xmin of each row)."""
    sid = device.subject_id
    queries = [
        (DataSubject, "id = %s", sid), (DataKey, "subject_id = %s", sid), (WebDevice, "id = %s", device.pk),
        (ConsentEvent, "subject_id = %s", sid), (WebChoice, "device_id = %s", device.pk),
        (ConsentState, "subject_id = %s", sid), (AuditEvent, "subject_id = %s", sid),
    ]  # fmt: skip
    found = set()
    with connection.cursor() as cursor:
        for model, where, value in queries:
            cursor.execute(f"SELECT xmin::text FROM {model._meta.db_table} WHERE {where}", [value])
            rows = cursor.fetchall()
            assert rows, model
            found |= {xmin for (xmin,) in rows}
    return found


@pytest.mark.django_db(transaction=True)
def test_a_first_visit_is_one_autocommit_statement():
    client = Client()
    web_ids.forget()  # so the warm-up draws a full set of ids (an earlier test may have left a few)
    _choose(client, {"analytics": True})  # this process's copy of the config, ids drawn, statement prepared
    assert connection.get_autocommit() and not connection.in_atomic_block
    with wire() as sent:
        first = _choose(client, {"analytics": True, "advertising": False, "widgets": False})
    trips = _round_trips(sent)
    assert len(trips) == 1 and "Sync" in trips[0], "\n".join(trips)  # no BEGIN, no COMMIT: autocommit
    device = WebDevice.objects.get(public_id=first["device_id"])
    # The one statement did the whole job, in one transaction: subject, data key, device, three ledger
    # events, three WebChoice rows, three states and the two audit events all carry its id.
    assert len(_xmins(device)) == 1
    assert ConsentEvent.objects.filter(subject_id=device.subject_id).count() == 3
    assert WebChoice.objects.filter(device_id=device.pk).count() == 3
    assert verify_chain()[1] is None
    # A return visit is still one transaction (BEGIN ... COMMIT) around its statements.
    with wire() as sent:
        _choose(client, {"analytics": False}, device_id=first["device_id"])
    trips = _round_trips(sent)
    assert "BEGIN" in trips[0] and "COMMIT" in trips[-1], "\n".join(trips)
    assert len(_xmins(device)) == 2


def _first_visit_with_a_taken_id(taken: str, monkeypatch) -> None:
    client = Client()
    earlier = _choose(client, {"analytics": True})
    old = WebDevice.objects.get(public_id=earlier["device_id"])
    old_event = ConsentEvent.objects.get(subject_id=old.subject_id)
    drawn = web_ids.take

    def taken_id(events):  # as after a sequence set back or rows loaded with their ids: one exists already
        subject_id, event_ids = drawn(events)
        if taken == "subject":
            return old.subject_id, event_ids
        return subject_id, [old_event.pk, *event_ids[1:]]

    monkeypatch.setattr(web_ids, "take", taken_id)
    forgotten = []
    monkeypatch.setattr(web_ids, "forget", lambda: forgotten.append(True))
    result = _choose(client, {"analytics": True, "advertising": False, "widgets": False})
    assert forgotten == [True]  # the ids held are dropped
    device = WebDevice.objects.get(public_id=result["device_id"])
    assert device.subject_id != old.subject_id
    recorded = ConsentEvent.objects.filter(public_id__in=result["receipts"], subject_id=device.subject_id)
    assert recorded.count() == 3 and old_event.pk not in {e.pk for e in recorded}
    assert ConsentEvent.objects.filter(subject_id=old.subject_id).count() == 1  # the other device untouched
    actions = AuditEvent.objects.filter(subject_id=device.subject_id).order_by("id").values_list("action")
    assert [a for (a,) in actions] == ["subject.created", "consent.events_recorded"]
    assert verify_chain()[1] is None


@pytest.mark.parametrize("taken", ["subject", "ledger"])
def test_a_first_visit_whose_drawn_id_is_taken_is_recorded_in_a_transaction(taken, monkeypatch):
    _first_visit_with_a_taken_id(taken, monkeypatch)  # inside the test's transaction: behind a savepoint


@pytest.mark.parametrize("taken", ["subject", "ledger"])
@pytest.mark.django_db(transaction=True)
def test_a_first_visit_whose_drawn_id_is_taken_in_autocommit_is_recorded_in_a_transaction(taken, monkeypatch):
    _first_visit_with_a_taken_id(taken, monkeypatch)


@pytest.mark.django_db(transaction=True)
def test_two_first_choices_racing_with_one_new_device_id_end_on_one_device(monkeypatch):
    device_id = str(uuid.uuid4())  # an id consent.js kept, that we have never seen
    barrier = threading.Barrier(2, timeout=30)
    lock, waited = web_store._lock_pg, set()

    def both_find_none(public_id, reserve):  # both look before either creates the device
        found = lock(public_id, reserve)
        if found is None and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait()
        return found

    monkeypatch.setattr(web_store, "_lock_pg", both_find_none)
    errors = []

    def choose(allowed: bool) -> None:
        try:
            web_choice_record(device_id=device_id, choices={"analytics_cookies": allowed})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=choose, args=(allowed,)) for allowed in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # The loser's insert failed on the device's unique id (as Django's IntegrityError), and its retry found
    # the winner's device: both choices are recorded for that one device.
    assert errors == []
    device = WebDevice.objects.get(public_id=device_id)
    assert ConsentEvent.objects.filter(subject_id=device.subject_id).count() == 2
    assert verify_chain()[1] is None


def _row(model, **where) -> dict:
    return model.objects.filter(**where).values().get()


def test_a_first_visit_writes_the_subject_key_and_device_rows_the_orm_writes():
    """The one statement writes subject, data key and device from instances' fields, outside the ORM."""
    first = _choose(Client(), {"analytics": True})
    device = _row(WebDevice, public_id=first["device_id"])
    ours = (_row(DataSubject, pk=device["subject_id"]), _row(DataKey, subject_id=device["subject_id"]))
    subject = subject_create(actor="website")
    orm = WebDevice.objects.create(subject=subject, region="DE")
    theirs = (_row(DataSubject, pk=subject.pk), _row(DataKey, subject_id=subject.pk))
    per_row = {"id", "public_id", "subject_id", "wrapped", "created_at", "updated_at"}
    for mine, made in zip((*ours, device), (*theirs, _row(WebDevice, pk=orm.pk)), strict=True):
        assert {k: v for k, v in mine.items() if k not in per_row} == {
            k: v for k, v in made.items() if k not in per_row
        }
        for stamp in {"created_at", "updated_at"} & set(mine):
            assert abs(mine[stamp] - made[stamp]) < timedelta(minutes=1)
    assert ours[0]["public_id"] != theirs[0]["public_id"]
    assert crypto.key_for_subject(device["subject_id"]) is not None  # its wrapped key opens


def test_a_process_forked_from_one_holding_ids_holds_none():
    _choose(Client(), {"analytics": True})
    assert web_ids.held()[0] > 0
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked from a parent that drew ids
        os._exit(0 if web_ids.held() == (0, 0) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert web_ids.held()[0] > 0  # the parent keeps its own


def _prepared() -> dict[str, str]:
    """This session's prepared statements: name -> the PREPARE that made it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def _runs() -> int:
    """How often this session ran its prepared web statements (plans used, custom or generic)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements "
            "WHERE name LIKE 'privacyops_web_%'"
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("prepared", [True, False])
def test_the_ledger_statement_is_prepared_once_per_session_unless_turned_off(settings, prepared):
    settings.CONSENT_WEB_PREPARED_STATEMENTS = prepared
    client = Client()
    before = (_runs(), set(_prepared()))
    first = [_choose(client, {"analytics": allowed}) for allowed in (True, False, True)]
    _choose(client, {"analytics": False}, device_id=first[0]["device_id"])
    _choose(client, {"widgets": True}, device_id=first[1]["device_id"])
    texts = [text for name, text in _prepared().items() if name.startswith("privacyops_web_")]
    if prepared:  # five runs of two statements: first visits (they create the device too), return visits
        assert _runs() - before[0] == 5
        assert any(t.startswith("WITH s AS (INSERT INTO inventory_datasubject (id, ") for t in texts)
        assert any(t.startswith("WITH r AS (SELECT * FROM json_to_recordset($1::json)") for t in texts)
    else:
        assert _runs() == before[0] and set(_prepared()) == before[1]
    assert connection.connection.prepare_threshold is None  # psycopg prepares nothing itself


@pytest.mark.django_db(transaction=True)
def test_a_rollback_after_a_choice_leaves_the_sessions_other_prepared_statements_alone(settings):
    # psycopg answers a rollback with DEALLOCATE ALL once it has prepared anything itself, which would
    # drop discovery's statement and fail its next EXECUTE inside a transaction: the choice's statement
    # is prepared by name in SQL, as discovery's is.
    settings.CONSENT_WEB_PREPARED_STATEMENTS = settings.DISCOVERY_PREPARED_STATEMENTS = True
    subject = DataSubjectFactory()
    records_for_subject(subject.pk)  # discovery prepares its statement in this session
    _choose(Client(), {"analytics": True})  # the choice prepares its own
    with pytest.raises(RuntimeError), transaction.atomic():
        DataSubjectFactory()
        raise RuntimeError("a failed transaction: ROLLBACK")
    names = set(_prepared())
    assert any(n.startswith("privacyops_discovery_") for n in names), names
    assert any(n.startswith("privacyops_web_") for n in names), names
    with transaction.atomic():
        assert records_for_subject(subject.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_a_session_that_lost_the_statement_prepares_it_again(settings):
    settings.CONSENT_WEB_PREPARED_STATEMENTS = True
    client = Client()
    _choose(client, {"analytics": True})
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    again = _choose(client, {"analytics": False, "widgets": True})
    assert ConsentEvent.objects.filter(public_id__in=again["receipts"]).count() == 2
    assert any(name.startswith("privacyops_web_") for name in _prepared())


def test_a_first_visit_audits_the_new_subject_then_the_choice_in_one_unbroken_chain():
    result = _choose(Client(), {"analytics": True})
    subject_id = WebDevice.objects.get(public_id=result["device_id"]).subject_id
    actions = list(
        AuditEvent.objects.filter(subject_id=subject_id).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["subject.created", "consent.events_recorded"]
    assert verify_chain()[1] is None


def test_a_return_visit_audits_in_its_ledger_statement_or_after_settling_an_open_reconsent_request():
    client = Client()
    first = _choose(client, {"analytics": False, "advertising": True})
    subject_id = WebDevice.objects.get(public_id=first["device_id"]).subject_id
    _choose(client, {"analytics": False}, device_id=first["device_id"])  # none open: audited in one go
    code = next(p["code"] for p in web_banner(region="DE").purposes if p["key"] == "analytics")
    analytics = Purpose.objects.get(code=code)
    asked = ReconsentRequest.objects.create(
        subject_id=subject_id, purpose=analytics, expired_at=timezone.now()
    )
    _choose(client, {"analytics": True}, device_id=first["device_id"])  # one open: settled, then audited
    asked.refresh_from_db()
    assert asked.status == ReconsentRequest.Status.RESOLVED
    actions = list(
        AuditEvent.objects.filter(subject_id=subject_id).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["subject.created"] + ["consent.events_recorded"] * 3
    assert verify_chain()[1] is None


def _linked_device(client, email: str) -> tuple[dict, DataSubject]:
    """A device whose choices count for a known person too (as after a login or the privacy center)."""
    person = subject_create(name="Known Person", email=email)
    first = _choose(client, {"analytics": True, "advertising": False})
    web_device_link_person(device_id=first["device_id"], person_id=person.pk)
    return first, person


def test_a_return_visit_turns_a_grant_for_a_suppressed_address_into_a_withdrawal():
    client = Client()
    first, person = _linked_device(client, "opted-out@example.com")
    code = next(p["code"] for p in web_banner(region="DE").purposes if p["key"] == "advertising")
    advertising = Purpose.objects.get(code=code)
    _choose(client, {"advertising": True}, device_id=first["device_id"])  # nothing suppressed: granted
    assert (
        ConsentEvent.objects.filter(subject_id=person.pk, purpose=advertising).latest("id").action == "grant"
    )
    # The address is suppressed after the device was made (a do-not-sell page, an erasure's hashes).
    SuppressedAddress.objects.create(email_hmac=email_hmac("opted-out@example.com"), purpose=advertising)
    again = _choose(client, {"advertising": True}, device_id=first["device_id"])
    latest = ConsentEvent.objects.filter(subject_id=person.pk, purpose=advertising).latest("id")
    assert (latest.action, latest.suppressed) == ("withdraw", True)
    assert str(latest.public_id) in again["receipts"]


def test_a_return_visit_after_the_device_subjects_key_was_destroyed_records_nothing():
    client = Client()
    first = _choose(client, {"analytics": True})
    device = WebDevice.objects.get(public_id=first["device_id"])
    before = ConsentEvent.objects.count()
    _choose(client, {"analytics": False}, device_id=first["device_id"])  # the key is cached in this process
    assert ConsentEvent.objects.count() == before + 1
    DataKey.objects.filter(subject_id=device.subject_id).update(wrapped="", destroyed_at=timezone.now())
    response = client.post(
        reverse("consent:web-choice"),
        data=json.dumps({"choices": {"analytics": True}, "banner_sha256": web_banner(region="DE").sha256,
                         "device_id": first["device_id"]}),
        content_type="application/json", HTTP_ORIGIN=ORIGIN, HTTP_CF_IPCOUNTRY="DE",
    )  # fmt: skip
    assert response.status_code == 400
    assert "key was destroyed" in response.json()["detail"]
    assert ConsentEvent.objects.count() == before + 1


def test_the_key_epoch_is_read_before_the_wrapped_key_the_lock_reads(monkeypatch):
    """A key read live just before its destruction commits must carry the epoch from before the read,
    so the destruction's bump makes its next open re-check it."""
    first = _choose(Client(), {"analytics": True})
    order: list[str] = []
    epoch = crypto.key_epoch

    def reading_epoch():
        order.append("epoch")
        return epoch()

    def statement(execute, sql, params, many, context):
        order.append("lock" if "FOR UPDATE SKIP LOCKED" in sql else "other")
        return execute(sql, params, many, context)

    monkeypatch.setattr(crypto, "key_epoch", reading_epoch)
    with connection.execute_wrapper(statement):
        device = web_store.device_for_choice(
            public_id=uuid.UUID(first["device_id"]), region="DE", actor="test", reserve=2
        )
    assert order == ["epoch", "lock"]
    assert device.key_epoch is not None and device.wrapped[device.subject_id]
    assert (device.any_suppressed, device.reconsent_open) == (False, False)


def test_the_reply_shows_the_state_the_ledger_folded():
    client = Client()
    first = _choose(client, {"analytics": True, "advertising": True})
    again = _choose(client, {"advertising": False}, device_id=first["device_id"])
    config = client.get(
        reverse("consent:web-config") + f"?device={first['device_id']}",
        HTTP_ORIGIN=ORIGIN,
        HTTP_CF_IPCOUNTRY="DE",
    ).json()
    assert again["choices"] == config["state"]["choices"]
    assert again["chosen"] == config["state"]["chosen"] == ["advertising", "analytics"]


def test_a_change_made_in_another_process_reaches_this_one_through_the_shared_version(monkeypatch):
    monkeypatch.setattr(web_selectors, "CONFIG_CHECK_SECONDS", 0)
    before = web_banner(region="DE").sha256
    Purpose.objects.filter(code="widgets").update(description="Embedded maps only.")  # another process
    assert web_banner(region="DE").sha256 == before  # this process's copy, still current by the version
    caches["default"].set(CONFIG_VERSION_KEY, "bumped-by-another-process")  # its web_config_changed()
    assert web_banner(region="DE").sha256 != before


def _counting_commands(monkeypatch) -> list[str]:
    """The names of the commands redis-py sends (a pipeline would show as one MULTI/EXEC entry)."""
    sent: list[str] = []
    command, execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counting(self, *args, **kwargs):
        sent.append(str(args[0]))
        return command(self, *args, **kwargs)

    def pipelined(self, *args, **kwargs):
        sent.append(f"pipeline of {len(self.command_stack)}")
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    monkeypatch.setattr(redis.client.Pipeline, "execute", pipelined)
    return sent


@pytest.mark.redis
def test_the_rate_limit_counts_in_one_redis_command_and_limits(settings, monkeypatch):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url()}
    }
    cache = caches["default"]
    key = f"test:rate:{os.getpid()}"
    cache.delete(key)
    sent = _counting_commands(monkeypatch)
    with monkeypatch.context() as unknown:  # a server that lost the script (restarted): EVAL loads it
        unknown.setattr(ratelimit, "_WINDOW_COUNT_SHA", "0" * 40)
        counts = [window_count(cache, key, 60)]
    assert sent == ["EVALSHA", "EVAL"]
    sent.clear()
    counts += [window_count(cache, key, 60) for _ in range(3)]
    assert counts == [1, 2, 3, 4] and sent == ["EVALSHA"] * 3  # one command, one round trip per request
    assert cache.get(key) == 4  # the same value Django's own cache calls read
    assert 0 < cache._cache.get_client(key).ttl(cache.make_and_validate_key(key)) <= 60
    cache.delete(key)


@pytest.mark.redis
def test_the_choice_rate_limit_through_the_cache_proxy_takes_one_command_on_one_reused_client(
    settings, monkeypatch
):
    # The production settings' backend for a Redis CACHE_URL, reached the way core.throttling reaches it:
    # through django.core.cache.cache, a proxy that is no RedisCache instance itself.
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": redis_url()}}
    from django.core.cache import cache as proxy

    key = f"test:rate-proxy:{os.getpid()}"
    made = []
    init = redis.Redis.__init__

    def constructing(self, *args, **kwargs):
        made.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", constructing)
    proxy.delete(key)
    window_count(proxy, f"{key}:warm", 60)  # the script is loaded
    sent = _counting_commands(monkeypatch)
    counts = [window_count(proxy, key, 60) for _ in range(3)]
    assert counts == [1, 2, 3] and sent == ["EVALSHA"] * 3
    assert proxy.get(key) == 3 and proxy.incr(key) == 4  # Django's own calls share the client
    assert len(made) == 1  # one client for every call on this pool, not one per call
    proxy.delete(key)
    proxy.delete(f"{key}:warm")
