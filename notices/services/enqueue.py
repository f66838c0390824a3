"""Putting a notice in the outbox: checks, rendering, and the row written in the caller's transaction.

`notice_enqueue` renders the notice and inserts its row in the *caller's* transaction, so the notice
exists if and only if the business change that caused it commits. Delivery is scheduled with
`transaction.on_commit` (robust: a broker outage never fails the caller's request; the beat sweep
re-queues anything left pending). The idempotency key is unique in the database: the same key
returns the existing notice and sends nothing new, even under concurrent callers.
"""

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject

from .. import gate, rendering
from ..context import common_context
from ..models import Breach, Notice, NoticeKind, NoticeStatus, NoticeTemplate
from ..templates_lookup import active_template
from . import common

logger = logging.getLogger("notices")


class MarketingNotAllowed(ValidationError):
    """A marketing message was refused: no current consent for the purpose (or no gate registered)."""


def notice_enqueue(
    *,
    kind: str,
    idempotency_key: str,
    context: dict,
    subject: DataSubject | None = None,
    to_email: str | None = None,
    marketing_purpose: str | None = None,
    language: str = "en",
    actor: Actor = None,
) -> Notice:
    """Write a notice to the outbox in the caller's transaction and deliver it after commit.

    The same `idempotency_key` returns the existing notice (nothing new is sent). `to_email` defaults
    to the subject's address. With `marketing_purpose` the notice is marketing: refused with
    MarketingNotAllowed unless the marketing gate says yes. `context` is plain data (ids, references,
    dates, links); see notices.defaults.SAMPLE_CONTEXTS for what each kind's template uses.
    """
    notice, _ = outbox_insert(
        kind=kind,
        idempotency_key=idempotency_key,
        context=context,
        subject=subject,
        to_email=to_email,
        marketing_purpose=marketing_purpose,
        language=language,
        actor=actor,
    )
    return notice


def outbox_insert(
    *,
    kind: str,
    idempotency_key: str,
    context: Mapping[str, Any],
    subject: DataSubject | None = None,
    to_email: str | None = None,
    marketing_purpose: str | None = None,
    language: str = "en",
    actor: Actor = None,
    breach: Breach | None = None,
) -> tuple[Notice, bool]:
    """notice_enqueue, plus the breach link; returns (notice, created) for callers that count."""
    idempotency_key = _clean_key(idempotency_key)
    existing = _existing_notice(idempotency_key=idempotency_key, kind=kind)
    if existing is not None:
        return existing, False
    purpose = _checked_purpose(kind=kind, marketing_purpose=marketing_purpose)
    unsubscribe_url = _marketing_unsubscribe_url(subject=subject, purpose=purpose) if purpose else ""
    address = _recipient_address(subject=subject, to_email=to_email)
    template = active_template(kind=kind, language=language)
    public_id = uuid.uuid4()
    rendered = _render(
        template=template,
        context=context,
        public_id=public_id,
        subject=subject,
        unsubscribe_url=unsubscribe_url,
    )
    notice = Notice(
        public_id=public_id,
        idempotency_key=idempotency_key,
        kind=kind,
        language=template.language,
        template=template,
        template_version=template.version,
        subject=subject,
        breach=breach,
        marketing_purpose=purpose,
        to_email=address,
        email_subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=_headers(public_id=public_id, purpose=purpose, unsubscribe_url=unsubscribe_url),
        status=NoticeStatus.PENDING,
        dispatched_at=timezone.now(),
        requested_by=actor_label(actor),
    )
    return _insert(notice=notice, actor=actor)


# --- The steps, in order -------------------------------------------------------------------------
def _clean_key(idempotency_key: str) -> str:
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError(
            "A notice needs an idempotency key of 1 to 200 characters (e.g. case id + kind)."
        )
    return idempotency_key


def _existing_notice(*, idempotency_key: str, kind: str) -> Notice | None:
    """The notice already written under this key: the caller gets it back and nothing new is sent."""
    existing = Notice.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.kind != kind:
        logger.warning(
            "Idempotency key of notice %s reused for kind %s (it is %s); returning the existing notice.",
            existing.pk,
            kind,
            existing.kind,
        )
    return existing


def _checked_purpose(*, kind: str, marketing_purpose: str | None) -> str:
    """A known kind; a marketing message names the consent purpose it relies on."""
    if kind not in NoticeKind.values:
        raise ValidationError(f"'{kind}' is not a kind of notice.")
    purpose = (marketing_purpose or "").strip()
    if kind == NoticeKind.MARKETING and not purpose:
        raise ValidationError(
            "A marketing message needs the consent purpose it relies on (marketing_purpose)."
        )
    return purpose


def _marketing_unsubscribe_url(*, subject: DataSubject | None, purpose: str) -> str:
    """Ask the marketing gate: current consent, and a one-click unsubscribe link, or refuse."""
    if subject is None:
        raise MarketingNotAllowed("A marketing message needs a data subject whose consent can be checked.")
    if subject.erased_at is not None or not gate.may_send_marketing(subject_id=subject.pk, purpose=purpose):
        logger.info(
            "Marketing notice refused: subject %s has no current consent for %s.", subject.pk, purpose
        )
        raise MarketingNotAllowed(
            f"Marketing message not sent: subject #{subject.pk} has no current consent for '{purpose}'."
        )
    unsubscribe_url = gate.unsubscribe_url(subject_id=subject.pk, purpose=purpose)
    if not unsubscribe_url:
        raise MarketingNotAllowed(
            "Marketing message not sent: no one-click unsubscribe link is available (CAN-SPAM §7704)."
        )
    return unsubscribe_url


def _recipient_address(*, subject: DataSubject | None, to_email: str | None) -> str:
    """The given address, else the subject's; refused when missing or invalid (never quoted back)."""
    address = (to_email if to_email is not None else (subject.email if subject is not None else "")).strip()
    if not address:
        who = f"Subject #{subject.pk}" if subject is not None else "The recipient"
        raise ValidationError(f"{who} has no email address; the notice can't be sent by email.")
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationError(
            "The recipient's email address is not valid; the notice was not queued."
        ) from exc
    return address


def _full_context(
    *,
    context: Mapping[str, Any],
    public_id: uuid.UUID,
    subject: DataSubject | None,
    unsubscribe_url: str,
) -> dict[str, Any]:
    """The common variables plus the caller's plain-data context (refused if it is not plain data)."""
    try:
        full_context = {
            **common_context(public_id=public_id, subject=subject, unsubscribe_url=unsubscribe_url),
            **rendering.plain_data(dict(context or {})),
        }
    except rendering.NotPlainData as exc:
        raise ValidationError(f"Notice context refused: {exc}") from exc
    if unsubscribe_url:
        full_context["unsubscribe_url"] = unsubscribe_url  # never the caller's
    return full_context


def _render_failure(template: NoticeTemplate, exc: Exception) -> ValidationError:
    """A template the caller's context doesn't satisfy: refuse, say which part (never the context)."""
    return ValidationError(
        f"The '{template.kind}' template (version {template.version}) could not be rendered: "
        f"{rendering.describe_failure(exc)}."
    )


def _render(
    *,
    template: NoticeTemplate,
    context: Mapping[str, Any],
    public_id: uuid.UUID,
    subject: DataSubject | None,
    unsubscribe_url: str,
) -> rendering.Rendered:
    """The template rendered from the common variables plus the caller's plain-data context."""
    full_context = _full_context(
        context=context, public_id=public_id, subject=subject, unsubscribe_url=unsubscribe_url
    )
    try:
        return rendering.render(
            subject_template=template.subject_template,
            body_text_template=template.body_text_template,
            body_html_template=template.body_html_template,
            context=full_context,
            language=template.language,
        )
    except Exception as exc:
        raise _render_failure(template, exc) from exc


def render_notices(*, template: NoticeTemplate, contexts: list[dict[str, Any]]) -> list[rendering.Rendered]:
    """_render for a batch (contexts from _full_context): what the notices share is rendered once."""
    try:
        return rendering.render_many(
            subject_template=template.subject_template,
            body_text_template=template.body_text_template,
            body_html_template=template.body_html_template,
            contexts=contexts,
            language=template.language,
        )
    except Exception as exc:
        raise _render_failure(template, exc) from exc


def _headers(*, public_id: uuid.UUID, purpose: str, unsubscribe_url: str) -> dict[str, str]:
    """Marketing: one-click unsubscribe (RFC 8058); otherwise no vacation auto-replies (RFC 3834)."""
    headers = {"X-Privacyops-Notice": str(public_id)}
    if purpose:
        headers.update(
            {
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
            }
        )
    else:
        headers["Auto-Submitted"] = "auto-generated"
    return headers


def _insert(*, notice: Notice, actor: Actor) -> tuple[Notice, bool]:
    """Insert the row with its audit event; a concurrent insert of the same key wins, ours is dropped."""
    # The database enforces uniqueness, constraints and foreign keys (the objects were just loaded).
    notice.full_clean(
        exclude=["template", "subject", "breach"], validate_unique=False, validate_constraints=False
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                notice.save(force_insert=True)
        except IntegrityError:
            # A concurrent transaction committed the same key first: that notice is the one.
            existing = Notice.objects.filter(idempotency_key=notice.idempotency_key).first()
            if existing is None:
                raise
            return existing, False
        audit_record(
            action="notice.enqueued",
            actor=actor,
            target=notice,
            subject_id=notice.subject_id,
            details={
                "kind": notice.kind,
                "template_version": notice.template_version,
                "marketing_purpose": notice.marketing_purpose,
                "breach_id": notice.breach_id,
            },
        )
        transaction.on_commit(lambda: common.dispatch_notices([notice.pk]), robust=True)
    return notice, True


# Public names of the steps, for the bulk path (notices.services.bulk_enqueue) which shares them.
clean_key = _clean_key
checked_purpose = _checked_purpose
recipient_address = _recipient_address
render_notice = _render
full_context = _full_context
notice_headers = _headers
