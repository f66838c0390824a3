"""schemathesis against /api/schema/: generated requests to every operation, as a privacy officer with a
token, through the Django WSGI app. Checks: no 5xx, and every response matches the schema.

Bounded, not repeatable on purpose: EXAMPLES generated requests per operation with a fresh random seed
each run (so CI explores new inputs every time; a failure prints hypothesis' reproduction blob), no
shrinking budget surprises (deadline off). Operations with path parameters are
called twice per example: with the generated ids (which exist nowhere: 404 paths) and with the ids of
real rows (the world's subject, case, batch, receipt), so the happy paths are fuzzed too (their query
strings and bodies stay generated).
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from .world import OFFICER, build_world, role_users

EXAMPLES = 40  # was 25, derandomized
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]  # valid requests, then invalid ones


@pytest.fixture
def _keep_the_test_connection():
    """The bare WSGI app closes "old" connections around each request, which would close the test's
    transaction; Django's test client disconnects the same handlers while it calls the app."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db, settings, tmp_path, monkeypatch, _keep_the_test_connection):
    settings.MEDIA_ROOT = tmp_path
    settings.API_ALLOW_STAFF_TOKENS = True  # the fuzzer calls as the officer, with a token
    # A thousand requests a minute is over the per-client rate: throttling is tested in test_api.py,
    # here every request must reach the view.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "1000000/min")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost", "testserver"]
    users = role_users()
    world = build_world(users=users)
    token, _ = Token.objects.get_or_create(user=users[OFFICER])
    return world, {"Authorization": f"Token {token.key}"}


def _real_ids(world) -> dict[str, str]:
    return {
        "public_id": str(world.subject.public_id),
        "receipt_id": str(world.objects["consent.consentevent"].public_id),
        "id": str(world.objects["disclosures.disclosurebatch"].public_id),
        "reference": str(world.objects["requests_app.privacyrequest"].reference),
        "code": "contact",
    }


def _fuzz(operation, mode, *, auth: dict, real: dict, calls: list) -> None:
    """EXAMPLES generated requests to one operation (hypothesis, derandomized: the same every run)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=False,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call_and_validate(headers=auth, checks=CHECKS)
        calls.append(response.status_code)
        if case.path_parameters:
            case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
            response = case.call_and_validate(headers=auth, checks=CHECKS)
            calls.append(response.status_code)

    run()


@pytest.mark.postgres
def test_no_server_errors_and_every_response_matches_the_schema(fuzz_world):
    world, auth = fuzz_world
    # The schema the clients see, served by the app itself (it needs a signed-in caller).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), headers=auth)
    real = _real_ids(world)
    failures, counts = {}, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            calls: list[int] = []
            try:
                _fuzz(operation, mode, auth=auth, real=real, calls=calls)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label  # nothing invalid to send: fine
            except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all failures reported
                failures[f"{operation.label} [{mode.value}]"] = str(exc)[:2000]
            counts[f"{operation.label} [{mode.value}]"] = calls
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    operations = {k.rsplit(" [", 1)[0] for k in counts}
    total = sum(len(c) for c in counts.values())
    print(f"schemathesis: {len(operations)} operations, {total} requests, statuses "
          f"{sorted({s for c in counts.values() for s in c})}")  # fmt: skip
    assert len(operations) >= 19 and total >= len(operations) * EXAMPLES
