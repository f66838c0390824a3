"""Data Rights Protocol 0.9.4 for authorized agents: signed messages, bearer tokens, cases, statuses.

Every body is validated against the vendored DRP schemas (privacycenter/drp_schemas/).
"""

import base64
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from privacycenter.models import DrpAgent, DrpRequest
from privacycenter.selectors import drp_status
from privacycenter.services import drp_business_id
from requests_app.models import RequestType, Status, VerificationToken
from requests_app.services import (
    VERIFY_SALT,
    request_deny,
    request_verify_authority,
    request_verify_manually,
    verification_confirm,
)

pytestmark = pytest.mark.django_db
SCHEMAS = Path(__file__).resolve().parents[2] / "privacycenter" / "drp_schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def _valid(body: dict, name: str) -> dict:
    jsonschema.validate(body, _schema(name), format_checker=jsonschema.FormatChecker())
    return body


class Agent:
    def __init__(self, agent_id: str = "PERMISSION_SLIP"):
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.row = DrpAgent.objects.create(
            agent_id=agent_id,
            name="Permission Slip",
            contact_email="drp@agent.example",
            verify_key=base64.b64encode(public).decode(),
        )
        self.token = ""

    def sign(self, claims: dict, *, key=None) -> bytes:
        message = json.dumps(claims).encode()
        return base64.b64encode((key or self.key).sign(message) + message)

    def envelope(self, **extra) -> dict:
        now = timezone.now()
        return {
            "agent-id": self.row.agent_id,
            "business-id": drp_business_id(),
            "issued-at": now.isoformat(),
            "expires-at": (now + dt.timedelta(minutes=10)).isoformat(),
            "drp.version": "0.9.4",
            **extra,
        }

    def auth(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def agent(client):
    a = Agent()
    response = client.post(
        reverse("privacycenter:drp-agent", args=[a.row.agent_id]),
        a.sign(a.envelope()),
        content_type="text/plain",
    )
    assert response.status_code == 200
    a.token = _valid(response.json(), "pairwise-setup")["token"]
    return a


def _exercise(client, agent, exercise="deletion", **claims):
    body = agent.envelope(exercise=exercise, regime="ccpa", email="pat@example.com", name="Pat Doe", **claims)
    _valid(json.loads(base64.b64decode(agent.sign(body))[64:]), "exercise-request")
    return client.post(
        reverse("privacycenter:drp-exercise"), agent.sign(body), content_type="text/plain", **agent.auth()
    )


def _verify_identity(case) -> None:
    token = VerificationToken.objects.filter(case=case, used_at__isnull=True).latest("created_at")
    verification_confirm(token=signing.dumps({"n": token.nonce}, salt=VERIFY_SALT))


# --- discovery and keys ----------------------------------------------------------------------------


def test_business_discovery_document_matches_the_published_schema(client):
    body = client.get(reverse("privacycenter:drp-business"), secure=True).json()
    _valid(body, "business")
    assert body["supported_actions"] == ["access", "deletion", "sale:opt_out"]
    assert body["api_base"].endswith("/privacycenter/drp/")


def test_pairwise_setup_needs_the_registered_key_and_keeps_only_a_hash(client, agent):
    agent.row.refresh_from_db()
    assert agent.row.token_sha256 and agent.token not in agent.row.token_sha256
    forged = client.post(
        reverse("privacycenter:drp-agent", args=[agent.row.agent_id]),
        agent.sign(agent.envelope(), key=Ed25519PrivateKey.generate()),
        content_type="text/plain",
    )
    assert forged.status_code == 403 and forged.content == b""
    unknown = client.post(
        reverse("privacycenter:drp-agent", args=["NOBODY"]),
        agent.sign(agent.envelope()),
        content_type="text/plain",
    )
    assert unknown.status_code == 403


def test_agent_information_endpoint_checks_the_token_against_the_agent(client, agent):
    url = reverse("privacycenter:drp-agent", args=[agent.row.agent_id])
    assert client.get(url, **agent.auth()).json() == {}
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get(reverse("privacycenter:drp-agent", args=["OTHER"]), **agent.auth()).status_code == 403


# --- exercise ----------------------------------------------------------------------------------------


def test_an_exercise_becomes_an_agent_case_waiting_for_identity_and_authority(client, agent):
    response = _exercise(client, agent)
    assert response.status_code == 200, response.content
    body = _valid(response.json(), "exercise-status")
    assert body["status"] == "in_progress" and "expected_by" in body
    drp = DrpRequest.objects.select_related("case").get()
    assert str(drp.request_id) == body["request_id"]
    assert drp.case.type == RequestType.ERASURE and drp.case.regime == "ccpa"
    assert drp.case.requester_kind == "agent" and drp.case.status == Status.VERIFYING
    assert drp.case.subject.email == "pat@example.com"


def test_a_retried_agent_request_id_returns_the_same_request(client, agent):
    first = _exercise(client, agent, **{"agent-request-id": "ps-7"}).json()
    again = _exercise(client, agent, **{"agent-request-id": "ps-7"}).json()
    assert first["request_id"] == again["request_id"] and DrpRequest.objects.count() == 1
    assert first["agent_request_id"] == "ps-7"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"exercise": "sale:opt-in"}, 400),
        ({"regime": "gdpr"}, 400),
        ({"drp.version": "0.7"}, 400),
        ({"business-id": "someone-else"}, 403),
        ({"agent-id": "OTHER"}, 403),
        ({"expires-at": (timezone.now() - dt.timedelta(minutes=1)).isoformat()}, 400),
        ({"email": "not an address"}, 400),
    ],
)
def test_bad_exercises_get_a_drp_error_and_no_case(client, agent, change, status):
    body = agent.envelope(exercise="deletion", regime="ccpa", email="pat@example.com")
    body.update(change)
    response = client.post(
        reverse("privacycenter:drp-exercise"), agent.sign(body), content_type="text/plain", **agent.auth()
    )
    assert response.status_code == status
    _valid(response.json(), "error")
    assert not DrpRequest.objects.exists()


def test_without_a_valid_token_nothing_is_filed(client, agent):
    body = agent.sign(agent.envelope(exercise="deletion", email="pat@example.com"))
    response = client.post(reverse("privacycenter:drp-exercise"), body, content_type="text/plain")
    assert response.status_code == 403 and _valid(response.json(), "error")
    assert not DrpRequest.objects.exists()


def test_another_agent_may_not_read_or_revoke_the_request(client, agent):
    request_id = _exercise(client, agent).json()["request_id"]
    other = Agent("OTHER_AGENT")
    other.token = client.post(
        reverse("privacycenter:drp-agent", args=[other.row.agent_id]),
        other.sign(other.envelope()),
        content_type="text/plain",
    ).json()["token"]
    url = reverse("privacycenter:drp-request", args=[request_id])
    assert client.get(url, **other.auth()).status_code == 403
    assert client.delete(url, **other.auth()).status_code == 403
    assert DrpRequest.objects.get().case.status == Status.VERIFYING


# --- status transitions --------------------------------------------------------------------------------


def _status(client, agent, request_id):
    response = client.get(reverse("privacycenter:drp-request", args=[request_id]), **agent.auth())
    assert response.status_code == 200
    return _valid(response.json(), "exercise-status")


def test_verified_identity_and_authority_move_the_case_on(client, agent):
    officer = User.objects.create_user(username="olivia", password="x" * 16, is_staff=True)
    request_id = _exercise(client, agent, exercise="deletion").json()["request_id"]
    case = DrpRequest.objects.get().case
    assert _status(client, agent, request_id)["processing_details"].startswith("Waiting")
    _verify_identity(case)  # the email link alone is not enough for a deletion (11 CCR §7062)
    case.refresh_from_db()
    assert case.status == Status.IDENTITY_IN_DOUBT
    in_doubt = _status(client, agent, request_id)
    assert in_doubt["status"] == "in_progress" and "more information" in in_doubt["processing_details"]
    request_verify_manually(
        case=case,
        method="phone",
        level="reasonable",
        reason="Two data points matched by phone",
        actor=officer,
    )
    case.refresh_from_db()
    assert case.status == Status.VERIFYING  # identity done; the agent's authority is not yet checked
    assert _status(client, agent, request_id)["status"] == "in_progress"
    request_verify_authority(case=case, document="Signed permission PS-123", actor=officer)
    case.refresh_from_db()
    assert case.status in (Status.IN_PROGRESS, Status.COMPLETED)
    body = _status(client, agent, request_id)
    assert body["status"] == ("fulfilled" if case.status == Status.COMPLETED else "in_progress")
    assert "processing_details" not in body or not body["processing_details"].startswith("Waiting")


def test_an_opt_out_of_sale_needs_no_verification_and_is_acted_on_at_once(client, agent):
    body = _valid(_exercise(client, agent, exercise="sale:opt-out").json(), "exercise-status")
    case = DrpRequest.objects.get().case
    assert case.type == RequestType.OPT_OUT
    assert case.status in (Status.IN_PROGRESS, Status.COMPLETED)
    assert body["status"] == ("fulfilled" if case.status == Status.COMPLETED else "in_progress")


def test_a_denied_case_reads_denied_with_the_drp_reason(client, agent):
    officer = User.objects.create_user(username="olivia", password="x" * 16, is_staff=True)
    request_id = _exercise(client, agent).json()["request_id"]
    request_deny(
        case=DrpRequest.objects.get().case,
        basis="no_authority",
        reason="The agent did not show the consumer's signed permission.",
        actor=officer,
    )
    body = _status(client, agent, request_id)
    assert body["status"] == "denied" and body["reason"] == "insuf_verification"


def test_revoking_an_open_request_withdraws_the_case_and_a_final_one_cannot_be_revoked(client, agent):
    request_id = _exercise(client, agent).json()["request_id"]
    url = reverse("privacycenter:drp-request", args=[request_id])
    revoked = client.delete(
        url, agent.sign({"reason": "changed my mind"}), content_type="text/plain", **agent.auth()
    )
    assert revoked.status_code == 200 and _valid(revoked.json(), "exercise-status")["status"] == "revoked"
    assert DrpRequest.objects.get().case.status == Status.WITHDRAWN
    again = client.delete(url, **agent.auth())
    assert again.status_code == 400 and _valid(again.json(), "error")["fatal"] is False


@pytest.mark.parametrize(
    ("case_status", "drp"),
    [
        (Status.RECEIVED, "open"),
        (Status.VERIFYING, "in_progress"),
        (Status.IDENTITY_IN_DOUBT, "in_progress"),
        (Status.IN_PROGRESS, "in_progress"),
        (Status.COMPLETED, "fulfilled"),
        (Status.WITHDRAWN, "revoked"),
    ],
)
def test_every_case_status_maps_to_a_valid_drp_status(client, agent, case_status, drp):
    _exercise(client, agent)
    row = DrpRequest.objects.select_related("case").get()
    row.case.status = case_status  # the mapping only: the transitions themselves are proven above
    body = _valid(drp_status(row), "exercise-status")
    assert body["status"] == drp
