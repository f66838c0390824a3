"""HTTP connectors against a local server answering in Mailchimp's and HubSpot's documented shapes."""

from pathlib import Path

import pytest

from connectors import http
from connectors.models import ErasureJournal, SystemRun
from connectors.secrets import open_json
from connectors.services import case_systems_plan, connection_save, connection_test, system_run_execute
from inventory.models import System

from . import fake_apis

SHIPPED = Path(http.__file__).parent / "shipped"
JANE = "Jane@Example.com"


@pytest.fixture
def api():
    server, state, base = fake_apis.start()
    yield state, base
    server.shutdown()
    server.server_close()


def _system(code, config, secrets):
    system = System.objects.create(code=code, name=code.title(), kind="external", owner="Marketing")
    connection_save(system=system, kind="http", config=config, secrets=secrets, actor="test")
    return system


@pytest.fixture
def mailchimp(db, api):
    state, base = api
    state.add_member(JANE, FNAME="Jane")
    state.add_member("john@example.com", FNAME="John")
    secrets = {
        "api_key": fake_apis.MAILCHIMP_KEY,
        "list_id": "L1",
        "data_center": "us1",
        "base_url": f"{base}/3.0",
    }
    return _system("mailchimp", (SHIPPED / "mailchimp.yml").read_text(), secrets)


@pytest.fixture
def hubspot(db, api):
    state, base = api
    state.add_contact("101", "jane@example.com", firstname="Jane")
    state.add_contact("102", "jane@example.com", firstname="Jane (duplicate)")
    state.add_contact("103", "john@example.com", firstname="John")
    secrets = {"private_app_token": fake_apis.HUBSPOT_TOKEN, "subscription_id": "S9", "base_url": base}
    return _system("hubspot", (SHIPPED / "hubspot.yml").read_text(), secrets)


def _connector(text, base, **secrets):
    """A connector whose waits are recorded instead of slept (rate limit off unless the test sets one)."""
    config = http.parse_config(text)
    if "rate_limit_per_second: 4" not in text:
        config.rate_limit_per_second = 0
    return http.HttpConnector(config, {"base_url": base, **secrets}, sleep=SLEEPS.append)


SLEEPS: list[float] = []


@pytest.fixture(autouse=True)
def _clear_sleeps():
    SLEEPS.clear()


def _run(system, action, case_id=1):
    [run] = case_systems_plan(case_id=case_id, action=action, identities={"email": [JANE]}, systems=[system])
    return system_run_execute(run_id=run.pk)


@pytest.mark.django_db
def test_mailchimp_access_finds_the_member_by_subscriber_hash(mailchimp):
    run = _run(mailchimp, "access")
    assert run.status == "done"
    [member] = open_json(run.result)["list_members"]
    assert member["email_address"] == JANE and member["merge_fields"] == {"FNAME": "Jane"}


@pytest.mark.django_db
def test_mailchimp_erasure_deletes_the_member_permanently_and_journals_the_hash(mailchimp, api):
    state, _ = api
    run = _run(mailchimp, "erasure")
    assert run.status == "done" and run.counts == {"list_members": 1}
    assert (
        "POST",
        f"/3.0/lists/L1/members/{_md5('jane@example.com')}/actions/delete-permanent",
    ) in state.calls
    assert [m["email_address"] for m in state.members.values()] == ["john@example.com"]
    assert ErasureJournal.objects.get().keys == {"columns": ["id"], "values": [[_md5("jane@example.com")]]}


@pytest.mark.django_db
def test_an_address_not_on_the_list_is_no_data_not_an_error(mailchimp):
    [run] = case_systems_plan(
        case_id=2, action="access", identities={"email": ["nobody@x.org"]}, systems=[mailchimp]
    )
    run = system_run_execute(run_id=run.pk)
    assert run.status == "done" and run.counts == {}


@pytest.mark.django_db
def test_mailchimp_unsubscribe_patches_the_member(mailchimp, api):
    state, _ = api
    run = _run(mailchimp, "opt_out")
    assert run.status == "done" and run.counts == {"list_members": 1}
    assert state.members[_md5("jane@example.com")]["status"] == "unsubscribed"


@pytest.mark.django_db
def test_hubspot_search_follows_the_cursor_and_gdpr_deletes_each_contact(hubspot, api):
    state, _ = api
    conn = hubspot.connection
    conn.config = conn.config.replace("limit: 100", "limit: 1")  # one contact per page: two pages
    conn.save()
    run = _run(hubspot, "access")
    assert [c["id"] for c in open_json(run.result)["contacts"]] == ["101", "102"]
    assert state.calls.count(("POST", "/crm/v3/objects/contacts/search")) == 2
    run = _run(hubspot, "erasure", case_id=3)
    assert run.status == "done" and run.counts == {"contacts": 2}
    assert list(state.contacts) == ["103"]


@pytest.mark.django_db
def test_hubspot_unsubscribe_names_the_subscription(hubspot, api):
    state, _ = api
    assert _run(hubspot, "opt_out").status == "done"
    assert state.unsubscribed == [("jane@example.com", "S9")]


@pytest.mark.django_db
def test_an_api_answering_500_then_200_is_retried_with_backoff(api):
    state, base = api
    state.add_member(JANE)
    state.fault("/3.0/lists", 500)
    state.fault("/3.0/lists", 503)
    conn = _connector(
        (SHIPPED / "mailchimp.yml").read_text(), f"{base}/3.0", api_key=fake_apis.MAILCHIMP_KEY, list_id="L1"
    )
    found = conn.access({"email": [JANE]})
    assert found.counts() == {"list_members": 1}
    assert SLEEPS == [0.5, 1.0]


@pytest.mark.django_db
def test_429_with_retry_after_waits_as_told(api):
    state, base = api
    state.add_member(JANE)
    state.fault("/3.0/lists", 429, **{"Retry-After": "7"})
    conn = _connector(
        (SHIPPED / "mailchimp.yml").read_text(), f"{base}/3.0", api_key=fake_apis.MAILCHIMP_KEY, list_id="L1"
    )
    assert conn.access({"email": [JANE]}).counts() == {"list_members": 1}
    assert SLEEPS == [7.0]


@pytest.mark.django_db
def test_a_server_that_keeps_failing_fails_the_run_with_the_status_only(mailchimp, api):
    state, _ = api
    for _ in range(5):
        state.fault("/3.0/lists", 500)
    mailchimp.connection.config = mailchimp.connection.config + "\nretry_base_seconds: 0\n"
    mailchimp.connection.save()
    run = _run(mailchimp, "access")
    assert run.status == "failed"
    assert run.error == "HttpError: read list_members: HTTP 500 after 5 attempt(s)"
    assert SystemRun.objects.get().status == "failed"


@pytest.mark.django_db
def test_a_malformed_page_fails_clearly_and_loses_nothing(mailchimp, api):
    state, _ = api
    state.fault("/3.0/lists", "malformed")
    run = _run(mailchimp, "erasure")
    assert run.status == "failed"
    assert run.error == "HttpError: read list_members page 1: malformed response (not JSON), HTTP 200"
    assert len(state.members) == 2 and not ErasureJournal.objects.exists()


@pytest.mark.django_db
def test_a_timeout_is_retried_then_reported(api):
    state, base = api
    state.fault("/crm/v3", "slow")
    text = (SHIPPED / "hubspot.yml").read_text().replace("timeout_seconds: 10", "timeout_seconds: 0.3")
    text = text.replace("retries: 4", "retries: 0")
    conn = _connector(text, base, private_app_token=fake_apis.HUBSPOT_TOKEN)
    with pytest.raises(http.HttpError, match="read contacts: ReadTimeout after 1 attempt"):
        conn.access({"email": ["jane@example.com"]})


GENERIC = """
name: generic
base_url: http://unused
auth: {type: api_key, header: X-Api-Key, key: "{secrets.key}"}
operations:
  read:
    - collection: offset_items
      method: GET
      path: /generic/offset
      data_path: data
      pagination: {type: offset, page_size: 3}
    - collection: link_items
      method: GET
      path: /generic/link
      data_path: items
      pagination: {type: link}
    - collection: keyed
      method: GET
      path: /generic/apikey
      data_path: items
"""


@pytest.mark.django_db
def test_offset_and_link_pagination_and_api_key_auth(api):
    _, base = api
    found = _connector(GENERIC, base, key="k-123").access({"email": ["jane@example.com"]})
    assert found.counts() == {"offset_items": 7, "link_items": 7, "keyed": 1}


@pytest.mark.django_db
def test_oauth2_client_credentials_fetches_a_token_first(api):
    state, base = api
    text = """
base_url: http://unused
auth: {type: oauth2_client_credentials, token_url: /oauth/token, client_id: c, client_secret: "{secrets.cs}"}
operations:
  read: [{collection: items, method: GET, path: /generic/oauth, data_path: items}]
"""
    found = _connector(text, base, cs="s3cret").access({})
    assert found.counts() == {"items": 1}
    assert state.calls[:2] == [("POST", "/oauth/token"), ("GET", "/generic/oauth")]


@pytest.mark.django_db
def test_the_rate_limit_spaces_requests(api):
    _, base = api
    text = GENERIC.replace("name: generic", "name: generic\nrate_limit_per_second: 4")
    conn = _connector(text, base, key="k-123")
    conn.limiter_key = "rate-test"
    import time

    started = time.monotonic()
    conn.access({})
    # 7 requests at 4 per second: slots are booked 0.25 s apart, so the last one starts (elapsed time
    # plus the last wait, the waits being recorded here rather than slept) 6 x 0.25 s after the first.
    assert len(SLEEPS) == 6
    assert time.monotonic() - started + SLEEPS[-1] >= 0.25 * 6 - 0.01


@pytest.mark.django_db
def test_the_row_cap_truncates_a_paginated_read(api):
    _, base = api
    conn = _connector(GENERIC, base, key="k-123")
    conn.row_cap = 4
    found = conn.access({})
    assert found.counts()["link_items"] == 4 and "link_items" in found.truncated


@pytest.mark.django_db
def test_test_connection_reports_what_answered(mailchimp):
    assert connection_test(system=mailchimp, actor="officer").startswith("mailchimp answered HTTP")


def test_a_bad_configuration_is_refused_with_its_reason():
    with pytest.raises(http.HttpConfigError, match="needs a `read` operation"):
        http.parse_config("base_url: http://x\noperations: {}\n")
    with pytest.raises(http.HttpConfigError, match="auth.type must be one of"):
        http.parse_config("base_url: http://x\nauth: {type: magic}\n")


def _md5(value):
    import hashlib

    return hashlib.md5(value.encode()).hexdigest()


@pytest.mark.django_db
def test_an_opt_out_reaches_every_system_with_an_unsubscribe_operation(mailchimp, hubspot, api):
    from connectors.services import opt_out_propagate

    state, _ = api
    runs = opt_out_propagate(identities={"email": [JANE]}, subject_id=None, actor="consent")
    assert sorted(r.system.code for r in runs) == ["hubspot", "mailchimp"]
    for run in runs:
        run = system_run_execute(run_id=run.pk)
        assert run.status == "done" and run.identities == ""
    assert state.members[_md5("jane@example.com")]["status"] == "unsubscribed"
    assert state.unsubscribed == [("jane@example.com", "S9")]


@pytest.mark.django_db
def test_a_failed_opt_out_is_recorded_and_retried(mailchimp, api):
    from connectors.services import opt_out_propagate, system_run_retry

    state, _ = api
    mailchimp.connection.config += "\nretry_base_seconds: 0\nretries: 0\n"
    mailchimp.connection.save()
    state.fault("/3.0/lists", 503)
    [run] = opt_out_propagate(identities={"email": [JANE]}, actor="consent")
    run = system_run_execute(run_id=run.pk)
    assert (
        run.status == "failed"
        and run.error == "HttpError: unsubscribe list_members: HTTP 503 after 1 attempt(s)"
    )
    system_run_retry(run_id=run.pk, actor="officer")
    assert system_run_execute(run_id=run.pk).status == "done"
