"""Purposes and privacy-policy versions (policy §4, §11)."""

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject

from .. import outbox
from ..models import Action, ConsentState, PolicyVersion, Purpose
from ..web_selectors import web_config_changed


def _web_config_changed() -> None:
    """Every process's copy of purposes/banners/policy version goes now here, and everywhere once committed."""
    web_config_changed()
    transaction.on_commit(web_config_changed)


_PURPOSE_EDITABLE = {
    "name",
    "service",
    "description",
    "legal_basis",
    "is_marketing",
    "confirm_withdrawal",
    "consent_lifetime_days",
    "receipt_purpose_category",
    "third_party_disclosure",
    "policy_reference",
    "active",
}


@transaction.atomic
def purpose_update(*, purpose: Purpose, changes: Mapping[str, Any], actor: Actor = None) -> Purpose:
    """Edit a purpose's description and settings. The code and `required` never change (ledger rows use them).

    A new lifetime applies to consents given from now on; existing expiry dates stay as they were promised.
    """
    unknown = set(changes) - _PURPOSE_EDITABLE
    if unknown:
        raise ValidationError(f"These purpose fields can't be changed: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(purpose, name, value)
    purpose.full_clean()
    purpose.save()
    _web_config_changed()
    audit_record(
        action="consent.purpose_updated", actor=actor, target=purpose, details={"fields": sorted(changes)}
    )
    return purpose


@transaction.atomic
def purpose_create(
    *,
    code: str,
    name: str,
    service: str,
    description: str,
    legal_basis: str,
    actor: Actor = None,
    **extra: Any,
) -> Purpose:
    unknown = set(extra) - _PURPOSE_EDITABLE - {"required"}
    if unknown:
        raise ValidationError(f"Unknown purpose fields: {', '.join(sorted(unknown))}.")
    purpose = Purpose(
        code=code, name=name, service=service, description=description, legal_basis=legal_basis, **extra
    )
    purpose.full_clean()
    purpose.save()
    _web_config_changed()
    audit_record(action="consent.purpose_created", actor=actor, target=purpose, details={"code": code})
    return purpose


def policy_text_sha256(text: str) -> str:
    """Hash of the text with normalised line endings, so the same text always gives the same hash."""
    normalized = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(normalized.encode()).hexdigest()


@transaction.atomic
def policy_version_create(
    *, version: str, effective_on: date, text: str, url: str = "", summary: str = "", actor: Actor = None
) -> PolicyVersion:
    """Store a new (unpublished) version of the privacy policy with the hash of its text."""
    if not (text or "").strip():
        raise ValidationError("The policy text is empty.")
    sha = policy_text_sha256(text)
    if PolicyVersion.objects.filter(sha256=sha).exists():
        raise ValidationError("A policy version with exactly this text already exists.")
    policy = PolicyVersion(
        version=version.strip(), effective_on=effective_on, text=text, url=url, summary=summary, sha256=sha
    )
    policy.full_clean()
    policy.save()
    audit_record(
        action="consent.policy_version_created",
        actor=actor,
        target=policy,
        details={"version": policy.version, "sha256": sha},
    )
    return policy


@transaction.atomic
def policy_version_update(
    *, policy_version: PolicyVersion, changes: Mapping[str, Any], actor: Actor = None
) -> PolicyVersion:
    """Edit a draft. A published version is evidence (consents point at it) and never changes."""
    locked = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
    if locked.is_published:
        raise ValidationError("This policy version is published; publish a new version instead.")
    unknown = set(changes) - {"version", "effective_on", "text", "url", "summary"}
    if unknown:
        raise ValidationError(f"These fields can't be changed: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.sha256 = policy_text_sha256(locked.text)
    if PolicyVersion.objects.filter(sha256=locked.sha256).exclude(pk=locked.pk).exists():
        raise ValidationError("A policy version with exactly this text already exists.")
    locked.full_clean()
    locked.save()
    audit_record(
        action="consent.policy_version_updated",
        actor=actor,
        target=locked,
        details={"fields": sorted(changes)},
    )
    return locked


@transaction.atomic
def policy_version_publish(
    *, policy_version_id: int, notify_audience: str = PolicyVersion.Audience.NONE, actor: Actor = None
) -> PolicyVersion:
    """Publish a version (policy §11) and, if asked, notify the affected subjects in batches via the outbox."""
    policy = PolicyVersion.objects.select_for_update().filter(pk=policy_version_id).first()
    if policy is None:
        raise ValidationError("Unknown policy version.")
    if policy.is_published:
        raise ValidationError("This policy version is already published.")
    if notify_audience not in PolicyVersion.Audience.values:
        raise ValidationError("Unknown audience for the 'policy changed' notice.")
    if policy_text_sha256(policy.text) != policy.sha256:
        raise ValidationError("The stored text no longer matches its hash; it can't be published.")
    label = actor_label(actor)
    policy.published_at = timezone.now()
    policy.published_by_label = label
    policy.notify_audience = notify_audience
    policy.notify_cursor = 0
    policy.notified_count = 0
    policy.notify_completed_at = None if notify_audience else policy.published_at
    policy.save()
    _web_config_changed()
    audit_record(
        action="consent.policy_version_published",
        actor=actor,
        target=policy,
        details={"version": policy.version, "sha256": policy.sha256, "notify": notify_audience},
    )
    if notify_audience:
        from ..tasks import policy_change_notify

        transaction.on_commit(lambda: policy_change_notify.delay(policy.pk))
    return policy


def _policy_audience(policy: PolicyVersion, now: datetime):
    subjects = DataSubject.objects.filter(erased_at__isnull=True).exclude(email="")
    if policy.notify_audience == PolicyVersion.Audience.CONSENTING:
        granted = ConsentState.objects.filter(subject_id=OuterRef("pk"), action=Action.GRANT).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
        subjects = subjects.filter(Exists(granted))
    return subjects


@transaction.atomic
def policy_change_notices_enqueue_batch(
    *, policy_version_id: int, batch_size: int = 500, actor: Actor = None
) -> bool:
    """Enqueue the next batch of 'policy changed' notices; True when more remain.

    Resumable and safe to repeat: the cursor on the version row advances in the same transaction as
    the outbox rows, and each notice's idempotency key is (version, subject). The batch is written by
    notices' bulk enqueue, so its statements do not grow with batch_size.
    """
    policy = PolicyVersion.objects.select_for_update().filter(pk=policy_version_id).first()
    if policy is None or not policy.notify_audience or policy.notify_completed_at is not None:
        return False
    now = timezone.now()
    batch = list(
        _policy_audience(policy, now).filter(pk__gt=policy.notify_cursor).order_by("pk")[:batch_size]
    )
    if batch:
        outbox.policy_changed_enqueue_many(policy_version=policy, subjects=batch, actor=actor)
    if batch:
        policy.notify_cursor = batch[-1].pk
        policy.notified_count += len(batch)
    more = len(batch) == batch_size
    if not more:
        policy.notify_completed_at = now
        audit_record(
            action="consent.policy_change_notified",
            actor=actor,
            target=policy,
            details={"version": policy.version, "notified": policy.notified_count},
        )
    policy.save(update_fields=["notify_cursor", "notified_count", "notify_completed_at"])
    return more
