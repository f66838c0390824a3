"""Fulfilling cases through the registry and the other apps' services (never per-model code).

Each fulfilment runs as a Celery task on a FulfilmentAttempt with a heartbeat; the watchdog re-queues
or flags attempts whose worker died, so no case stays "in progress" forever. Handlers are idempotent
(erasure, consent withdrawal and notices are idempotent by contract; a rebuilt package replaces nothing).
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory import bulk, crypto
from inventory.registry import registry

from . import gateways, policy
from .gateways import NoticeKinds
from .models import (
    AccessPackage,
    CaseEvent,
    FulfilmentAttempt,
    PrivacyRequest,
    RecipientNotification,
    Rectification,
    RequestType,
    Status,
)
from .packages import package_contents
from .services import (
    _absolute,
    _lock,
    _require_reason,
    _update,
    _verification_address,
    case_event,
    request_complete,
)

PACKAGE_SALT = "requests_app.package"
RECIPIENT_DETAILS = {
    "erasure": "Please erase every record you received from us about this person and confirm when done.",
    "rectification": "Please correct the records you received from us about this person; we will send "
    "the corrected values through our usual secure channel on request.",
    "restriction": "Please restrict the processing of this person's data you received from us: store it, "
    "but do not otherwise use it until we tell you.",
}
Action = FulfilmentAttempt.Action
State = FulfilmentAttempt.State

ACTION_FOR_TYPE = {
    RequestType.ACCESS: Action.ACCESS_PACKAGE,
    RequestType.PORTABILITY: Action.ACCESS_PACKAGE,
    RequestType.RECTIFICATION: Action.RECTIFICATION,
    RequestType.ERASURE: Action.ERASURE,
    RequestType.OPT_OUT: Action.OPT_OUT,
    RequestType.NOTICE_1798_83: Action.NOTICE_1798_83,
    RequestType.MINOR_DELETION: Action.MINOR_ERASURE,
}


class FulfilmentRetry(Exception):
    """A fulfilment failed for a reason that may pass (database, broker, disk): the task retries."""


# --- queueing ----------------------------------------------------------------------------------------


def _enqueue(attempt: FulfilmentAttempt) -> None:
    from .tasks import run_fulfilment

    task_id = attempt.task_id
    transaction.on_commit(lambda: run_fulfilment.apply_async(args=[attempt.pk], task_id=task_id))


@transaction.atomic
def request_fulfil(*, case: PrivacyRequest, actor: Actor) -> FulfilmentAttempt:
    """Start the fulfilment of a verified case (a task does the work after this transaction commits)."""
    case = _lock(case)
    if case.status != Status.IN_PROGRESS:
        raise ValidationError("Only a verified case that is in progress can be fulfilled.")
    action = ACTION_FOR_TYPE.get(case.type)
    if action is None:
        raise ValidationError(
            "A restriction/objection is decided by an officer: record the outcome with 'Complete restriction'."
        )
    if case.attempts.filter(state__in=[State.QUEUED, State.RUNNING]).exists():
        raise ValidationError("A fulfilment of this case is already queued or running.")
    if action == Action.RECTIFICATION and not case.rectifications.filter(applied_at__isnull=True).exists():
        raise ValidationError("Enter the corrected values on the case before fulfilling it.")
    number = case.attempts.count() + 1
    attempt = FulfilmentAttempt.objects.create(
        case=case, action=action, number=number, task_id=str(uuid.uuid4()), queued_at=timezone.now()
    )
    _update(case, stuck_reason="", stuck_at=None)
    case_event(
        case=case,
        kind=CaseEvent.Kind.FULFILMENT,
        summary=f"{attempt.get_action_display()} queued (attempt {number})",
        actor=actor,
        details={"attempt_id": attempt.pk, "action": action},
    )
    _enqueue(attempt)
    return attempt


def _heartbeat(attempt_id: int) -> Callable[[], None]:
    def beat() -> None:
        FulfilmentAttempt.objects.filter(pk=attempt_id, state=State.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    return beat


def fulfilment_run(*, attempt_id: int) -> str:
    """Run one attempt. Guarded start: a queued attempt, or a running one whose worker went silent."""
    now = timezone.now()
    stale = now - policy.stuck_after()
    started = FulfilmentAttempt.objects.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=stale), pk=attempt_id
    ).update(state=State.RUNNING, started_at=now, heartbeat_at=now)
    attempt = FulfilmentAttempt.objects.select_related("case", "case__subject").get(pk=attempt_id)
    if not started:
        return attempt.state
    case = attempt.case
    if case.status != Status.IN_PROGRESS:
        _finish(attempt, State.ABANDONED, error=f"case is {case.status}")
        return State.ABANDONED
    try:
        HANDLERS[attempt.action](case, attempt.case.assignee or "fulfilment worker", _heartbeat(attempt.pk))
    except ValidationError as exc:
        # A business refusal (e.g. the yearly 1798.83 limit): retrying won't help; an officer decides.
        reason = "; ".join(exc.messages)[:250]
        _finish(attempt, State.FAILED, error=reason)
        _flag(case, f"{attempt.get_action_display()} refused: {reason}", attempt)
        return State.FAILED
    except Exception as exc:
        # Type only: exception text may quote data.
        # Back in the queue for the task's retry; queued_at restarts so the watchdog measures this wait.
        FulfilmentAttempt.objects.filter(pk=attempt.pk).update(
            state=State.QUEUED, error=type(exc).__name__, queued_at=timezone.now()
        )
        raise FulfilmentRetry(type(exc).__name__) from exc
    _finish(attempt, State.SUCCEEDED)
    return State.SUCCEEDED


def _finish(attempt: FulfilmentAttempt, state: str, *, error: str = "") -> None:
    FulfilmentAttempt.objects.filter(pk=attempt.pk).update(
        state=state, finished_at=timezone.now(), error=error
    )


@transaction.atomic
def _flag(case: PrivacyRequest, reason: str, attempt: FulfilmentAttempt | None) -> None:
    _update(case, stuck_reason=reason[:300], stuck_at=timezone.now())
    case_event(
        case=case,
        kind=CaseEvent.Kind.STUCK,
        summary=reason,
        actor="fulfilment watchdog",
        details={"attempt_id": getattr(attempt, "pk", None)},
    )


def fulfilment_give_up(*, attempt_id: int, error: str) -> None:
    """Retries are exhausted: the attempt failed and the case says so, visibly, for an officer."""
    attempt = FulfilmentAttempt.objects.select_related("case").get(pk=attempt_id)
    _finish(attempt, State.FAILED, error=error)
    _flag(
        attempt.case,
        f"{attempt.get_action_display()} failed after retries ({error}); needs an officer",
        attempt,
    )


def fulfilment_watchdog() -> dict[str, int]:
    """Find attempts whose worker died (no heartbeat) or whose message was lost (never started).

    Each is abandoned; the case gets a new attempt unless it already had `max_fulfilment_attempts`, in
    which case it is flagged with the reason (visible in the admin and on the timeline).
    """
    now = timezone.now()
    dead = FulfilmentAttempt.objects.filter(
        Q(state=State.RUNNING, heartbeat_at__lt=now - policy.stuck_after())
        | Q(state=State.QUEUED, queued_at__lt=now - policy.queued_too_long())
    ).select_related("case")
    requeued = flagged = 0
    for attempt in dead:
        with transaction.atomic():
            if not FulfilmentAttempt.objects.filter(pk=attempt.pk, state=attempt.state).update(
                state=State.ABANDONED, finished_at=now, error="worker lost: no heartbeat"
            ):
                continue
            case = _lock(attempt.case)
            what = "stopped reporting" if attempt.state == State.RUNNING else "was never picked up"
            if case.status != Status.IN_PROGRESS:
                continue
            if attempt.number >= policy.max_fulfilment_attempts():
                _flag(
                    case,
                    f"{attempt.get_action_display()} {what} {attempt.number} times; needs an officer",
                    attempt,
                )
                flagged += 1
                continue
            retry = FulfilmentAttempt.objects.create(
                case=case,
                action=attempt.action,
                number=attempt.number + 1,
                task_id=str(uuid.uuid4()),
                queued_at=now,
            )
            case_event(
                case=case,
                kind=CaseEvent.Kind.STUCK,
                summary=f"{attempt.get_action_display()} {what}; re-queued as attempt {retry.number}",
                actor="fulfilment watchdog",
                details={"abandoned_attempt_id": attempt.pk, "attempt_id": retry.pk},
            )
            _enqueue(retry)
            requeued += 1
    # Recipient notifications whose task was lost: send again (the task is idempotent).
    lost = list(
        RecipientNotification.objects.filter(
            state=RecipientNotification.State.PENDING, created_at__lt=now - policy.queued_too_long()
        ).values_list("pk", flat=True)
    )
    if lost:
        from .tasks import notify_recipient

        transaction.on_commit(lambda: [notify_recipient.delay(pk) for pk in lost])
    if requeued or flagged or lost:
        audit_record(
            action="request.watchdog",
            actor="fulfilment watchdog",
            details={"requeued": requeued, "flagged": flagged, "recipient_notifications_requeued": len(lost)},
        )
    return {"requeued": requeued, "flagged": flagged, "recipients_requeued": len(lost)}


# --- access / portability ----------------------------------------------------------------------------


def _package_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "access_packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_path(package: AccessPackage) -> Path:
    return _package_dir() / package.file_name


def package_link(package: AccessPackage) -> str:
    token = signing.dumps({"p": str(package.public_id)}, salt=PACKAGE_SALT)
    return _absolute(reverse("requests_app:download", args=[token]))


def access_package_build(*, case: PrivacyRequest, actor: Actor = None, heartbeat=None) -> AccessPackage:
    """Export every registered record of the subject (ZIP of JSON + CSV per category, README), encrypted
    under a fresh package key that only the master key can unwrap."""
    now = timezone.now()
    contents = package_contents(
        subject_id=case.subject_id,
        reference=str(case.reference),
        generated_at=now,
        lookback_from=case.lookback_from,
        heartbeat=heartbeat,
    )
    key = Fernet.generate_key()
    sealed = Fernet(key).encrypt(contents.data)
    public_id = uuid.uuid4()
    file_name = f"{public_id}.zip.fernet"
    path = _package_dir() / file_name
    path.write_bytes(sealed)
    try:
        with transaction.atomic():
            package = AccessPackage.objects.create(
                case=case,
                public_id=public_id,
                file_name=file_name,
                wrapped_key=crypto.master().encrypt(key).decode(),
                sha256=hashlib.sha256(contents.data).hexdigest(),
                size_bytes=len(sealed),
                record_count=contents.record_count,
                categories=contents.categories,
                created_at=now,
                expires_at=now + policy.package_ttl(),
            )
            case_event(
                case=case,
                kind=CaseEvent.Kind.EXPORT,
                summary=f"Access package built: {contents.record_count} records in "
                f"{len(contents.categories)} categories",
                actor=actor,
                details={
                    "package": str(public_id),
                    "categories": contents.categories,
                    "records": contents.record_count,
                },
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return package


def _fulfil_access(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    package = access_package_build(case=case, actor=actor, heartbeat=heartbeat)
    with transaction.atomic():
        request_complete(
            case=case,
            actor=actor,
            outcome_note=f"Your data export ({package.record_count} records) is ready to download.",
            notice_context={
                "download_url": package_link(package),
                "download_expires_on": package.expires_at.isoformat(),
            },
            to_email=_verification_address(case),
        )


def package_open(*, token: str) -> tuple[AccessPackage, bytes]:
    """Check a download link and return the decrypted ZIP; every download is on the timeline and audited."""
    try:
        payload = signing.loads(token, salt=PACKAGE_SALT, max_age=policy.package_ttl())
    except signing.SignatureExpired as exc:
        raise ValidationError("This download link has expired.", code="expired") from exc
    except signing.BadSignature as exc:
        raise ValidationError("This download link is not valid.", code="invalid") from exc
    package = AccessPackage.objects.select_related("case").filter(public_id=payload.get("p")).first()
    now = timezone.now()
    if package is None:
        raise ValidationError("This download link is not valid.", code="invalid")
    if package.purged_at or not package.wrapped_key or package.expires_at <= now:
        raise ValidationError("This download has expired and its file was destroyed.", code="expired")
    with transaction.atomic():
        counted = AccessPackage.objects.filter(
            pk=package.pk, download_count__lt=policy.package_max_downloads(), purged_at__isnull=True
        ).update(download_count=F("download_count") + 1, last_downloaded_at=now)
        if not counted:
            raise ValidationError("This download link was used too many times.", code="exhausted")
        key = Fernet(crypto.master().decrypt(package.wrapped_key.encode()))
        data = key.decrypt(package_path(package).read_bytes())
        case_event(
            case=package.case,
            kind=CaseEvent.Kind.DOWNLOAD,
            summary="Access package downloaded",
            actor="requester (download link)",
            details={"package": str(package.public_id)},
        )
    return package, data


def _destroy_package(package: AccessPackage, *, reason: str) -> None:
    AccessPackage.objects.filter(pk=package.pk).update(wrapped_key="", purged_at=timezone.now())
    path = package_path(package)
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
    audit_record(
        action="request.package_destroyed",
        target=package,
        subject_id=package.case.subject_id,
        details={"reason": reason, "package": str(package.public_id)},
    )


@transaction.atomic
def packages_purge_expired() -> int:
    """Expired packages: key destroyed (crypto-erase) and file removed."""
    expired = AccessPackage.objects.filter(
        purged_at__isnull=True, expires_at__lte=timezone.now()
    ).select_related("case")
    count = 0
    for package in expired:
        _destroy_package(package, reason="expired")
        count += 1
    return count


def packages_destroy_for_subject(*, subject_id: int) -> None:
    """Erasure hook (inventory.hooks): the subject's exports die with the subject's data."""
    for package in AccessPackage.objects.filter(
        case__subject_id=subject_id, purged_at__isnull=True
    ).select_related("case"):
        _destroy_package(package, reason="subject erased")


# --- rectification -----------------------------------------------------------------------------------


def rectifiable_fields(label: str) -> list[str]:
    entry = registry.by_label(label)
    subject_field = entry.subject.split("__")[0] if entry.subject else ""
    names = []
    for f in entry.model._meta.concrete_fields:
        if f.primary_key or f.is_relation or f.name in (subject_field, entry.collected_at):
            continue
        if f.editable or f.name in entry.encrypted_fields:
            names.append(f.name)
    return names


@transaction.atomic
def rectification_add(
    *,
    case: PrivacyRequest,
    model_label: str,
    field_name: str,
    value: str,
    record_id: int | None = None,
    actor: Actor,
) -> Rectification:
    """An officer enters a corrected value; it is sealed at once and applied when the case is fulfilled."""
    case = _lock(case)
    if case.type != RequestType.RECTIFICATION:
        raise ValidationError("Corrected values belong on a rectification case.")
    if case.status not in (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS):
        raise ValidationError("The case is closed.")
    try:
        entry = registry.by_label(model_label)
    except KeyError as exc:
        raise ValidationError({"model_label": "Choose a registered kind of record."}) from exc
    if field_name not in rectifiable_fields(entry.label):
        raise ValidationError({"field_name": f"{field_name} can't be corrected on {entry.verbose_name}."})
    field = entry.model._meta.get_field(field_name)
    if field_name not in entry.encrypted_fields:
        try:
            field.clean(field.to_python(value), None)
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from exc
    if record_id is not None and not entry.for_subject(case.subject_id).filter(pk=record_id).exists():
        raise ValidationError({"record_id": "No such record of this subject."})
    item = Rectification(
        pk=bulk.reserve_ids(Rectification, 1)[0],  # the sealed value is bound to its row
        case=case,
        subject_id=case.subject_id,
        model_label=entry.label,
        field_name=field_name,
        record_id=record_id,
        created_at=timezone.now(),
        created_by=actor if hasattr(actor, "pk") else None,
    )
    item.new_value = crypto.seal_field(crypto.key_for_subject(case.subject_id), item, "new_value", str(value))
    item.save(force_insert=True)
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECTIFICATION,
        summary=f"Correction entered for {entry.label}.{field_name}",
        actor=actor,
        details={"model": entry.label, "field": field_name, "record_id": record_id},
    )
    return item


def rectification_apply(*, case: PrivacyRequest, actor: Actor = None) -> list[str]:
    """Apply the case's corrections to the subject's registered records; returns changed field names."""
    changed: list[str] = []
    with transaction.atomic():
        key = crypto.key_for_subject(case.subject_id)
        for item in case.rectifications.select_for_update().filter(applied_at__isnull=True):
            entry = registry.by_label(item.model_label)
            field = entry.model._meta.get_field(item.field_name)
            plain = crypto.open_field(key, item, "new_value")
            records = entry.for_subject(case.subject_id).select_for_update().order_by("pk")
            if item.record_id is not None:
                records = records.filter(pk=item.record_id)
            count = 0
            for record in records:
                if item.field_name in entry.encrypted_fields:
                    setattr(record, item.field_name, crypto.seal_field(key, record, item.field_name, plain))
                else:
                    setattr(record, item.field_name, field.to_python(plain))
                record.full_clean(exclude=list(entry.encrypted_fields))
                record.save()  # save(): derived columns (normalised emails) follow the new value
                count += 1
            Rectification.objects.filter(pk=item.pk).update(applied_at=timezone.now(), records_changed=count)
            name = f"{entry.label}.{item.field_name}"
            changed.append(name)
            case_event(
                case=case,
                kind=CaseEvent.Kind.RECTIFICATION,
                summary=f"Corrected {name} on {count} record(s)",
                actor=actor,
                details={"model": entry.label, "field": item.field_name, "records": count},
            )
            audit_record(
                action="record.rectified",
                actor=actor,
                target_type=entry.model._meta.label_lower,
                target_id=item.record_id or "",
                subject_id=case.subject_id,
                details={"field": item.field_name, "records": count, "reference": str(case.reference)},
            )
    return changed


def _fulfil_rectification(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    with transaction.atomic():
        changed = rectification_apply(case=case, actor=actor)
        recipient_notifications_create(
            case=case, action=RecipientNotification.Action.RECTIFICATION, fields_changed=changed
        )
        request_complete(case=case, actor=actor, outcome_note=f"{len(changed)} correction(s) applied.")


# --- erasure -----------------------------------------------------------------------------------------


def _identifiers(case: PrivacyRequest) -> dict[str, str]:
    """What a recipient needs to find the person in its own systems, captured before erasure."""
    subject = case.subject
    return {"email": subject.email or case.requester_email, "name": subject.name}


def recipient_notifications_create(
    *, case: PrivacyRequest, action: str, fields_changed: list[str] | None = None
) -> list[RecipientNotification]:
    """One tracked notification per recipient (GDPR Art. 19; §1798.105(c)); tasks run after commit."""
    recipients = list(gateways.recipients_for_subject(subject_id=case.subject_id))
    if not recipients:
        return []
    sealed = crypto.master().encrypt(json.dumps(_identifiers(case)).encode()).decode()
    now = timezone.now()
    rows = []
    for third_party in recipients:
        row, _ = RecipientNotification.objects.get_or_create(
            case=case,
            third_party=third_party,
            action=action,
            defaults={
                "sealed_identifiers": sealed,
                "fields_changed": fields_changed or [],
                "created_at": now,
            },
        )
        rows.append(row)
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECIPIENT,
        summary=f"{len(rows)} recipient(s) to be told of the {action} (GDPR Art. 19)",
        details={"recipients": [r.third_party_id for r in rows], "action": action},
    )
    from .tasks import notify_recipient

    ids = [r.pk for r in rows if r.state == RecipientNotification.State.PENDING]
    transaction.on_commit(lambda: [notify_recipient.delay(pk) for pk in ids])
    return rows


@transaction.atomic
def recipient_notify(*, notification_id: int) -> str:
    """Send one recipient notification through the outbox; idempotent (a sent one is left alone)."""
    row = (
        RecipientNotification.objects.select_for_update()
        .select_related("case", "case__subject", "third_party")
        .get(pk=notification_id)
    )
    if row.state != RecipientNotification.State.PENDING:
        return row.state
    case, third_party = row.case, row.third_party
    now = timezone.now()
    if not third_party.privacy_contact_email:
        RecipientNotification.objects.filter(pk=row.pk).update(
            state=RecipientNotification.State.NO_CONTACT, sealed_identifiers="", attempts=F("attempts") + 1
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.RECIPIENT,
            summary=f"{third_party.legal_name} has no privacy contact on file: tell them another way",
            details={"third_party_id": third_party.pk, "state": "no_contact"},
        )
        return RecipientNotification.State.NO_CONTACT
    identifiers = (
        json.loads(crypto.master().decrypt(row.sealed_identifiers.encode())) if row.sealed_identifiers else {}
    )
    notice = gateways.notice_enqueue(
        kind=NoticeKinds.RECIPIENT_NOTIFICATION,
        idempotency_key=f"requests:{case.reference}:recipient:{row.pk}",
        context={
            "reference": str(case.reference),
            "third_party_name": third_party.legal_name,
            "action": row.action,
            "subject_identifiers": [v for v in (identifiers.get("email"), identifiers.get("name")) if v],
            "details": RECIPIENT_DETAILS[row.action]
            + (f" Fields corrected: {', '.join(row.fields_changed)}." if row.fields_changed else ""),
            "respond_by": (timezone.localdate() + timedelta(days=30)).isoformat(),
            "legal_basis": "GDPR Art. 19; Cal. Civ. Code §1798.105(c)",
        },
        subject=None,
        to_email=third_party.privacy_contact_email,
    )
    RecipientNotification.objects.filter(pk=row.pk).update(
        state=RecipientNotification.State.SENT,
        sent_at=now,
        notice_id=getattr(notice, "pk", None),
        sealed_identifiers="",
        attempts=F("attempts") + 1,
        last_error="",
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECIPIENT,
        summary=f"{third_party.legal_name} told of the {row.action}",
        details={"third_party_id": third_party.pk, "notice_id": getattr(notice, "pk", None), "state": "sent"},
    )
    return RecipientNotification.State.SENT


def recipient_notify_failed(*, notification_id: int, error: str) -> None:
    RecipientNotification.objects.filter(
        pk=notification_id, state=RecipientNotification.State.PENDING
    ).update(state=RecipientNotification.State.FAILED, last_error=error[:300], attempts=F("attempts") + 1)


def _fulfil_erasure(case: PrivacyRequest, actor: Actor, heartbeat, *, minor: bool = False) -> None:
    with transaction.atomic():
        case = _lock(case)
        confirm_to = _verification_address(case)
        recipient_notifications_create(case=case, action=RecipientNotification.Action.ERASURE)
        certificate = gateways.erase_subject(
            subject_id=case.subject_id,
            actor=actor,
            reason=f"Privacy request {case.reference} ({case.type})",
            case_reference=str(case.reference),
            minor=minor,
        )
        kept = _kept_records(certificate)
        kept_total = sum(k["count"] for k in kept)
        _update(case, erasure_certificate_id=certificate.pk)
        case_event(
            case=case,
            kind=CaseEvent.Kind.ERASURE,
            summary=f"Erased {certificate.erased_count} record(s) through the registry; {kept_total} kept "
            f"with reasons (certificate {_certificate_reference(certificate)[:8]})",
            actor=actor,
            details={
                "certificate_id": certificate.pk,
                "erased": certificate.erased_count,
                "kept": [{k: v for k, v in row.items() if k in ("model", "code", "count")} for row in kept],
                "key_destroyed": certificate.key_destroyed,
                "minor": minor,
            },
        )
        outcome = "Your personal data was erased."
        if kept:
            outcome += f" {kept_total} record(s) are kept where the law requires it: " + "; ".join(
                f"{k['description']}: {k['reason']}" for k in kept
            )
        request_complete(
            case=case,
            actor=actor,
            outcome_note=outcome,
            notice_kind=NoticeKinds.ERASURE_CONFIRMATION,
            notice_context={
                "certificate_reference": _certificate_reference(certificate),
                "kept_records": [
                    {"description": k.get("description", ""), "reason": k.get("reason", "")} for k in kept
                ],
            },
            to_email=confirm_to,
        )


def _certificate_reference(certificate) -> str:
    return str(getattr(certificate, "public_id", "") or f"#{certificate.pk}")


def _kept_records(certificate) -> list[dict]:
    """What the certificate says was kept, grouped per model and exception code (no personal data):
    `{"model", "count", "code", "description", "reason"}` for the case and the confirmation notice."""
    from retention.models import ExceptionCode

    groups: dict[tuple[str, str], int] = {}
    for row in (certificate.summary or {}).get("kept", []):
        key = (row.get("model", ""), row.get("code", ""))
        groups[key] = groups.get(key, 0) + 1
    kept = []
    for (label, code), count in sorted(groups.items()):
        try:
            name = registry.by_label(label).verbose_name
        except KeyError:
            name = label
        reason = ExceptionCode(code).label if code in ExceptionCode.values else code
        kept.append(
            {
                "model": label,
                "code": code,
                "count": count,
                "description": f"{name} ({count})",
                "reason": reason,
            }
        )
    return kept


def _fulfil_minor(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    _fulfil_erasure(case, actor, heartbeat, minor=True)


# --- opt-out, 1798.83, holds -------------------------------------------------------------------------


def _fulfil_opt_out(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    purposes = policy.OPT_OUT_PURPOSES[case.regime]
    with transaction.atomic():
        gateways.consent_withdraw_purposes(
            subject_id=case.subject_id,
            purposes=list(purposes),
            channel=policy.CONSENT_CHANNEL[case.channel],
            actor=actor,
            # The consent ledger's evidence keys (consent.evidence): the case reference and a note.
            evidence={
                "reference": str(case.reference),
                "note": f"Privacy request ({case.type}) received by {case.channel}; "
                "GDPR Art. 21(3); Cal. Civ. Code §1798.120, §1798.135",
            },
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.FULFILMENT,
            summary=f"Consent withdrawn for {', '.join(purposes)}",
            actor=actor,
            details={"purposes": list(purposes)},
        )
        request_complete(
            case=case, actor=actor, outcome_note="Marketing stopped: your opt-out took effect at once."
        )


def _fulfil_1798_83(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    """§1798.83: disclosures made in the preceding calendar year, once per customer per calendar year.

    `year` is the calendar year the notice covers (disclosures.rules counts requests per covered year).
    """
    year = gateways.notice_1798_83_year_covered(received_at=case.received_at)
    with transaction.atomic():
        prior = gateways.prior_1798_83_requests(
            subject_id=case.subject_id, year=year, exclude_reference=str(case.reference)
        )
        if prior:
            raise ValidationError(
                f"A 1798.83 notice covering {year} was already given to this customer this calendar year "
                "(§1798.83(c)(1)); deny with that basis or answer voluntarily."
            )
        notice = gateways.notice_1798_83_deliver(
            subject_id=case.subject_id, year=year, case_reference=str(case.reference), actor=actor
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.NOTICE,
            summary=f"1798.83 notice for {year} delivered",
            actor=actor,
            details={"notice_id": getattr(notice, "pk", None), "year": year},
        )
        request_complete(
            case=case, actor=actor, outcome_note=f"1798.83 notice for {year} sent.", notify=False
        )


HANDLERS: dict[str, Callable] = {
    Action.ACCESS_PACKAGE: _fulfil_access,
    Action.RECTIFICATION: _fulfil_rectification,
    Action.ERASURE: _fulfil_erasure,
    Action.MINOR_ERASURE: _fulfil_minor,
    Action.OPT_OUT: _fulfil_opt_out,
    Action.NOTICE_1798_83: _fulfil_1798_83,
}


@transaction.atomic
def request_complete_restriction(*, case: PrivacyRequest, outcome: str, actor: Actor) -> PrivacyRequest:
    """Restriction/objection: the officer records what now stops; recipients are told (GDPR Art. 19)."""
    outcome = _require_reason(outcome, "the outcome (it is sent to the requester)")
    case = _lock(case)
    if case.type != RequestType.RESTRICTION:
        raise ValidationError("Only restriction/objection cases are completed this way.")
    if case.status != Status.IN_PROGRESS:
        raise ValidationError("Only a verified case that is in progress can be completed.")
    recipient_notifications_create(case=case, action=RecipientNotification.Action.RESTRICTION)
    return request_complete(case=case, actor=actor, outcome_note=outcome)


@transaction.atomic
def request_legal_hold_place(*, case: PrivacyRequest, reason: str, actor: Actor):
    """Hold the subject's data for this case (e.g. a dispute about the request) via retention."""
    reason = _require_reason(reason, "the legal hold")
    case = _lock(case)
    hold = gateways.legal_hold_place(
        subject_id=case.subject_id,
        case_reference=str(case.reference),
        reason=reason,
        owner=actor,
        actor=actor,
    )
    _update(case, legal_hold_id=hold.pk)
    case_event(
        case=case,
        kind=CaseEvent.Kind.LEGAL_HOLD,
        summary=f"Legal hold #{hold.pk} placed on the subject's data",
        actor=actor,
        note=reason,
        details={"hold_id": hold.pk},
    )
    return hold


@transaction.atomic
def request_legal_hold_release(*, case: PrivacyRequest, reason: str, actor: Actor) -> int:
    """Release the holds placed for this case (e.g. the dispute is settled); erasure may then proceed."""
    reason = _require_reason(reason, "releasing the legal hold")
    case = _lock(case)
    released = gateways.legal_holds_release_for_case(
        case_reference=str(case.reference), reason=reason, actor=actor
    )
    if not released:
        raise ValidationError("This case has no legal hold in force.")
    _update(case, legal_hold_id=None)
    case_event(
        case=case,
        kind=CaseEvent.Kind.LEGAL_HOLD,
        summary=f"{released} legal hold(s) of this case released",
        actor=actor,
        note=reason,
        details={"released": released},
    )
    return released
