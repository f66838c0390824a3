"""Marketing needs a current consent (the gate); transactional notices are never blocked (policy §4)."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from notices.gate import marketing_gate, register_marketing_gate, use_marketing_gate
from notices.models import Notice, NoticeKind, NoticeStatus
from notices.services import MarketingNotAllowed, notice_deliver, notice_enqueue

from .factories import ExplodingGate, enqueue_ack

pytestmark = pytest.mark.django_db

PROMO = {"headline": "New in SYSPRO", "body": "Three new features.", "cta_url": "https://us.syspro.com/new"}


def _market(subject, key="promo:1", purpose="marketing_email"):
    return notice_enqueue(
        kind=NoticeKind.MARKETING,
        idempotency_key=key,
        context=PROMO,
        subject=subject,
        marketing_purpose=purpose,
    )


def test_without_a_registered_gate_marketing_is_refused(subject):
    with pytest.raises(MarketingNotAllowed) as excinfo:
        _market(subject)
    assert isinstance(excinfo.value, ValidationError)
    assert "no current consent for 'marketing_email'" in excinfo.value.messages[0]
    assert "bob@example.com" not in excinfo.value.messages[0]
    assert not Notice.objects.exists()


def test_marketing_without_consent_is_refused_by_the_gate(subject, gate):
    with pytest.raises(MarketingNotAllowed):
        _market(subject)
    assert gate.calls == [(subject.pk, "marketing_email")]
    assert not Notice.objects.exists()


def test_marketing_with_consent_is_sent_with_one_click_unsubscribe_headers(
    subject, gate, django_capture_on_commit_callbacks
):
    gate.allowed.add((subject.pk, "marketing_email"))
    with django_capture_on_commit_callbacks(execute=True):
        notice = _market(subject)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.is_marketing
    message = mail.outbox[0]
    url = f"https://privacy.example.com/unsubscribe/marketing_email/tok{subject.pk}"
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body  # the footer link works without the headers too
    assert "Auto-Submitted" not in message.extra_headers


def test_a_caller_cannot_supply_its_own_unsubscribe_link(subject, gate):
    gate.allowed.add((subject.pk, "marketing_email"))
    notice = notice_enqueue(
        kind=NoticeKind.MARKETING, idempotency_key="p", context={**PROMO, "unsubscribe_url": "https://evil.example"},
        subject=subject, marketing_purpose="marketing_email",
    )  # fmt: skip
    assert "evil.example" not in notice.body_text


def test_consent_withdrawn_after_queueing_cancels_the_marketing_notice(subject, gate):
    gate.allowed.add((subject.pk, "marketing_email"))
    notice = _market(subject)
    gate.allowed.clear()  # withdrawn before the worker got to it
    assert notice_deliver(notice_id=notice.pk).result == "cancelled"
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.CANCELLED and notice.last_error.startswith("consent")
    assert mail.outbox == []


@pytest.mark.parametrize(
    "kind", [NoticeKind.REQUEST_ACKNOWLEDGED, NoticeKind.POLICY_CHANGED, NoticeKind.OPT_OUT_CONFIRMED]
)
def test_transactional_notices_are_never_blocked_and_never_ask_the_gate(
    subject, kind, django_capture_on_commit_callbacks
):
    with use_marketing_gate(ExplodingGate()), django_capture_on_commit_callbacks(execute=True):
        notice = enqueue_ack(subject, kind=kind, context={})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(mail.outbox) == 1


def test_transactional_notice_is_sent_even_with_the_default_refusing_gate(
    subject, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_ack(subject)
    assert len(mail.outbox) == 1


def test_a_marketing_message_needs_a_purpose_and_a_subject(subject, gate):
    with pytest.raises(ValidationError, match="needs the consent purpose"):
        notice_enqueue(kind=NoticeKind.MARKETING, idempotency_key="a", context=PROMO, subject=subject)
    with pytest.raises(MarketingNotAllowed, match="needs a data subject"):
        notice_enqueue(
            kind=NoticeKind.MARKETING, idempotency_key="b", context=PROMO, to_email="x@example.com",
            marketing_purpose="marketing_email",
        )  # fmt: skip


def test_marketing_is_refused_when_the_gate_has_no_unsubscribe_link(subject):
    class NoLinkGate:
        def may_send(self, *, subject_id, purpose):
            return True

        def unsubscribe_url(self, *, subject_id, purpose):
            return ""

    with use_marketing_gate(NoLinkGate()), pytest.raises(MarketingNotAllowed, match="unsubscribe"):
        _market(subject)


def test_register_refuses_an_object_that_is_not_a_gate():
    before = marketing_gate()
    with pytest.raises(TypeError):
        register_marketing_gate(object())
    assert marketing_gate() is before
