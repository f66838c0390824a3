"""The API as an attacker or a careless client meets it: who may call what, how callers authenticate,
throttling per client, pagination everywhere, and no sequential ids that lead to a subject's data.

Every endpoint comes from the URL resolver and every operation from the OpenAPI schema, so a new
endpoint fails these tests until it is added to the matrix below.
"""

import re
import uuid

import pytest
from django.conf import settings
from rest_framework.authentication import SessionAuthentication
from rest_framework.throttling import SimpleRateThrottle

from core import throttling
from core.api_access import ServiceTokenAuthentication

from .api import api_client, api_endpoints, fill, openapi_schema, operations
from .world import (
    ANALYST,
    ANON,
    AUDITOR,
    CALLERS,
    JANE,
    JANE_ANSWER,
    OFFICER,
    build_world,
    make_role_user,
    role_users,
)

pytestmark = pytest.mark.django_db

# Status per caller. POSTs send an empty JSON body: 400 means "you may, but say what".
# Callers authenticate with a token; anonymous callers send none.
# fmt: off
API = {
    #  method path                                                   anonymous non-staff officer analyst auditor
    ("GET",  "/api/schema/"):                                        (401,      200,      200,    200,    200),
    ("GET",  "/api/docs/"):                                          (401,      200,      200,    200,    200),
    ("GET",  "/api/requests/"):                                      (401,      200,      200,    200,    200),
    ("POST", "/api/consent/events/"):                                (401,      403,      400,    403,    403),
    ("GET",  "/api/consent/purposes/"):                              (401,      200,      200,    200,    200),
    ("GET",  "/api/consent/receipts/{receipt_id}/"):                 (401,      403,      200,    200,    200),
    ("GET",  "/api/consent/subjects/{public_id}/"):                  (401,      403,      200,    200,    200),
    ("GET",  "/api/consent/subjects/{public_id}/events/"):           (401,      403,      200,    200,    200),
    ("GET",  "/api/disclosures/batches/"):                           (401,      403,      200,    200,    200),
    ("POST", "/api/disclosures/batches/"):                           (401,      403,      400,    403,    403),
    ("GET",  "/api/disclosures/batches/{id}/"):                      (401,      403,      200,    200,    200),
    ("GET",  "/api/disclosures/categories/"):                        (401,      403,      200,    200,    200),
    ("GET",  "/api/disclosures/requirement/"):                       (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/categories/"):                          (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/categories/{code}/"):                   (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/subjects/"):                            (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/subjects/{public_id}/"):                (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/subjects/{public_id}/records/"):        (401,      403,      200,    200,    200),
    ("GET",  "/api/inventory/subjects/{public_id}/records/?reveal=true"): (401, 403,      200,    403,    403),
    ("GET",  "/api/requests/cases/"):                                (401,      403,      200,    200,    200),
    ("GET",  "/api/requests/cases.json"):                            (401,      403,      200,    200,    200),
    ("POST", "/api/requests/cases/"):                                (401,      403,      400,    403,    403),
    ("GET",  "/api/requests/cases/{reference}/"):                    (401,      403,      200,    200,    200),
    ("GET",  "/api/requests/cases/{reference}/events/"):             (401,      403,      200,    403,    200),
}
# fmt: on
NOT_IN_SCHEMA = {("GET", "/api/schema/"), ("GET", "/api/docs/"), ("GET", "/api/requests/")}
EXTRA = {
    ("GET", "/api/inventory/subjects/{public_id}/records/?reveal=true"),
    ("GET", "/api/requests/cases.json"),
}

# Path parameters that are not public UUIDs: reference tables holding no personal data.
NON_UUID_PATH_PARAMETERS = {("/api/inventory/categories/{code}/", "code")}


@pytest.fixture
def world_and_users(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # The matrix calls as each staff role with a token: allowed here only (default off, see
    # test_staff_tokens.py for the refusal).
    settings.API_ALLOW_STAFF_TOKENS = True
    users = role_users()
    return build_world(users=users), users


def test_the_matrix_lists_every_operation_of_the_schema():
    schema_ops = {(method, path) for method, path, _ in operations(openapi_schema())}
    assert schema_ops == set(API) - NOT_IN_SCHEMA - EXTRA


def test_every_api_endpoint_answers_each_caller_as_the_matrix_says(world_and_users):
    world, users = world_and_users
    found, calls = {}, 0
    for (method, path), _codes in API.items():
        url = fill(path, world)
        statuses = []
        for caller in CALLERS:
            client = api_client(users.get(caller, ANON))
            response = client.get(url) if method == "GET" else client.post(url, {}, format="json")
            calls += 1
            statuses.append(response.status_code)
            if caller == ANON:
                assert response["WWW-Authenticate"] == "Token", (method, path)
        found[(method, path)] = tuple(statuses)
    wrong = {k: f"expected {API[k]}, got {v}" for k, v in found.items() if v != API[k]}
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert calls == len(API) * len(CALLERS)


def test_analysts_and_auditors_never_get_decrypted_fields_from_the_api(world_and_users):
    world, users = world_and_users
    url = f"/api/inventory/subjects/{world.subject.public_id}/records/"
    for role in (ANALYST, AUDITOR, OFFICER):
        plain = api_client(users[role]).get(url).content.decode()
        assert JANE_ANSWER not in plain and '"encrypted"' in plain, role
    revealed = api_client(users[OFFICER]).get(url, {"reveal": "true"}).content.decode()
    assert JANE_ANSWER in revealed


def test_authentication_is_token_or_session_only():
    allowed = {ServiceTokenAuthentication, SessionAuthentication}
    configured = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert configured == [
        "core.api_access.ServiceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ]
    endpoints = api_endpoints()
    assert len(endpoints) >= 20
    for endpoint in endpoints:
        classes = set(endpoint.view.authentication_classes)
        assert classes and classes <= allowed, (endpoint.route, classes)


def test_every_api_view_throttles_per_client_and_anonymous_callers():
    for endpoint in api_endpoints():
        throttles = endpoint.view().get_throttles()
        kinds = {type(t) for t in throttles}
        # core.throttling's: keyed on the shared client bucket (IPv6 per /64), not DRF's full address.
        assert throttling.UserRateThrottle in kinds and throttling.AnonRateThrottle in kinds, endpoint.route
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["user"] and rates["anon"]


def test_a_client_over_its_rate_gets_429_and_another_client_does_not(world_and_users, monkeypatch):
    world, users = world_and_users
    from django.core.cache import cache

    cache.clear()
    # DRF reads the rates when a throttle is created: lower the user rate for this test only.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/min")
    greedy, other = api_client(users[ANALYST]), api_client(users[AUDITOR])
    url = "/api/inventory/categories/"
    assert [greedy.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert greedy.get(url)["Retry-After"]
    assert other.get(url).status_code == 200
    cache.clear()


def test_every_list_endpoint_in_the_schema_answers_with_a_paginated_envelope(world_and_users):
    world, users = world_and_users
    client = api_client(users[OFFICER])
    lists = []
    for method, path, op in operations(openapi_schema()):
        ok = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        is_list = ok.get("type") == "array" or op["operationId"].endswith("_list")
        if method != "GET" or not is_list:
            continue
        lists.append(path)
        assert ok.get("$ref", "").split("/")[-1].startswith("Paginated"), (
            f"{path}: not paginated in the schema"
        )
        body = client.get(fill(path, world)).json()
        assert set(body) == {"count", "next", "previous", "results"}, path
        assert isinstance(body["results"], list), path
    assert len(lists) >= 7, lists


def test_no_path_takes_a_sequential_id_and_guessed_ids_lead_nowhere(world_and_users):
    world, users = world_and_users
    schema = openapi_schema()
    for _method, path, op in operations(schema):
        for param in op.get("parameters", []):
            if param["in"] != "path" or (path, param["name"]) in NON_UUID_PATH_PARAMETERS:
                continue
            schema_of = param.get("schema", {})
            assert schema_of.get("format") == "uuid" or param["name"] == "public_id", (path, param["name"])
    # The sequential primary keys (and a random UUID) in place of the public ids: 404, never data.
    client = api_client(users[OFFICER])
    case = world.objects["requests_app.privacyrequest"]
    guesses = {
        "/api/inventory/subjects/{}/": [world.subject.pk, f"{world.subject.pk:036d}", uuid.uuid4()],
        "/api/inventory/subjects/{}/records/": [world.subject.pk, uuid.uuid4()],
        "/api/consent/subjects/{}/": [world.subject.pk, uuid.uuid4()],
        "/api/consent/subjects/{}/events/": [world.subject.pk, uuid.uuid4()],
        "/api/consent/receipts/{}/": [world.objects["consent.consentevent"].pk, uuid.uuid4()],
        "/api/disclosures/batches/{}/": [world.objects["disclosures.disclosurebatch"].pk, uuid.uuid4()],
        "/api/requests/cases/{}/": [case.pk, uuid.uuid4()],
        "/api/requests/cases/{}/events/": [case.pk, uuid.uuid4()],
    }
    tried = 0
    for template, values in guesses.items():
        for value in values:
            response = client.get(template.format(value))
            tried += 1
            assert response.status_code == 404, (template, value, response.status_code)
            assert JANE["email"] not in response.content.decode()
    assert tried == 17


def test_public_links_with_forged_or_guessed_tokens_show_nothing(world_and_users, client):
    """The public pages take signed tokens: a sequential id, a random string or a token signed for
    another purpose shows no one's data."""
    from django.core import signing

    world, _users = world_and_users
    case = world.objects["requests_app.privacyrequest"]
    forged = [
        str(case.pk),
        str(case.reference),
        signing.dumps({"c": case.pk}),  # right key, wrong salt
        signing.dumps({"p": str(case.reference)}, salt="requests_app.package", key="not-the-secret"),
        "A" * 60,
    ]
    pages = ["/requests/status/{}/", "/requests/verify/{}/", "/requests/download/{}/", "/consent/unsubscribe/{}/",
             "/disclosures/notices/{}/html/"]  # fmt: skip
    tried = 0
    for page in pages:
        for token in forged:
            for method in ("get", "post"):
                response = getattr(client, method)(page.format(token))
                tried += 1
                body = response.content.decode(errors="replace")
                assert response.status_code < 500, (page, token, method)
                assert JANE["email"] not in body and JANE["name"] not in body, (page, token, method)
                assert "zip" not in response.get("Content-Type", ""), (page, token, method)
                # A page answers 200 only to say the link is not valid (or to ask for a confirmation).
                assert (
                    response.status_code != 200
                    or method == "get"
                    or re.search(r"(?i)invalid|expired|not valid|no longer", body)
                ), (page, token, method, response.status_code)
    assert tried == 50


def test_non_staff_service_accounts_get_their_permissions_on_machine_apis_and_nothing_else(world_and_users):
    """Systems that feed the ledgers (website, CRM) call with a token of a non-staff user holding one
    permission. They reach exactly that endpoint; the staff APIs (inventory, cases) stay closed even
    when such an account is put in the officers' group by mistake."""
    from django.contrib.auth.models import Group, Permission

    world, users = world_and_users
    website = make_role_user(None, staff=False, username="website")
    website.user_permissions.add(Permission.objects.get(codename="record_consent"))
    client = api_client(website)
    assert client.post("/api/consent/events/", {}, format="json").status_code == 400  # may: say what
    assert client.get(f"/api/consent/subjects/{world.subject.public_id}/").status_code == 403
    assert client.post("/api/disclosures/batches/", {}, format="json").status_code == 403
    website.groups.add(Group.objects.get(name=OFFICER))
    client = api_client(type(website).objects.get(pk=website.pk))
    for url in ("/api/inventory/subjects/", f"/api/inventory/subjects/{world.subject.public_id}/records/",
                "/api/requests/cases/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
