"""The public form's deferred intake (issue 15 item 2): the request stores what was typed, sealed; a task
opens the case under the reference the status link names, once, and lost tasks are queued again."""

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from requests_app import services
from requests_app.models import IntakeSubmission, PrivacyRequest, Status

pytestmark = pytest.mark.django_db

EMAIL = "deferred.person@example.org"
FORM = {
    "request_type": "access", "regime": "gdpr", "subject_email": EMAIL, "subject_name": "Deferred Person",
    "requester_kind": "subject", "website": "",
}  # fmt: skip


def test_the_case_opens_under_the_status_links_reference_and_only_once(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/requests/new/", FORM)
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    reference = signing.loads(token, salt=services.STATUS_SALT)["r"]
    case = PrivacyRequest.objects.get()
    assert (str(case.reference), case.status, case.subject.email) == (reference, Status.VERIFYING, EMAIL)
    assert IntakeSubmission.objects.count() == 0  # deleted once the case is open
    page = client.get(response["Location"])
    assert reference.encode() in page.content and page.status_code == 200


def test_what_waits_is_sealed_and_a_retried_task_opens_nothing_twice():
    submission = services.public_intake_submit(
        channel="web", **{k: v for k, v in FORM.items() if k != "website"}
    )
    assert EMAIL not in submission.sealed and "Deferred" not in submission.sealed
    assert services.public_intake_open(submission_id=submission.pk) == "opened"
    assert services.public_intake_open(submission_id=submission.pk) == "gone"  # a redelivered task
    assert PrivacyRequest.objects.count() == 1


def test_a_submission_whose_task_was_lost_is_queued_again(django_capture_on_commit_callbacks):
    fields = {k: v for k, v in FORM.items() if k != "website"}
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost this task
        services.public_intake_submit(channel="web", **fields)
    assert services.public_intake_requeue_stale() == 0  # 1 waiting, but not 5 minutes yet
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=6)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.public_intake_requeue_stale() == 1
    assert (PrivacyRequest.objects.count(), IntakeSubmission.objects.count()) == (1, 0)
