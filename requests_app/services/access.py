"""Access and portability: the encrypted access package, its download link, its destruction."""

import hashlib
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory import crypto
from inventory.models import DataSubject

from .. import conf, gateways
from ..models import AccessPackage, CaseEvent, PrivacyRequest
from ..packages import package_contents
from ..workflow import absolute_url, case_event, verification_address
from .officer_actions import request_complete
from .release_gate import release_awaits_approval

PACKAGE_SALT = "requests_app.package"


def package_path(package: AccessPackage) -> Path:
    return conf.package_dir() / package.file_name


def package_link(package: AccessPackage) -> str:
    token = signing.dumps({"p": str(package.public_id)}, salt=PACKAGE_SALT)
    return absolute_url(reverse("requests_app:download", args=[token]))


def access_package_build(*, case: PrivacyRequest, actor: Actor = None, heartbeat=None) -> AccessPackage:
    """Export every registered record of the subject (ZIP of JSON + CSV per category, README), encrypted
    under a fresh package key that only the master key can unwrap.

    Serialised with erasure (issue 14 item 9): the package row is written under the subject's row lock,
    the lock `erase_subject` holds for its whole transaction. A package finished before an erasure is
    destroyed by it (the erasure hook); one whose subject was erased while it was being built is never
    published (the file is removed and the build refused).
    """
    now = timezone.now()
    erased_before = gateways.last_erasure_certificate_id(subject_id=case.subject_id)
    contents = package_contents(
        case_id=case.pk,
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
    path = conf.package_dir() / file_name
    path.write_bytes(sealed)
    try:
        with transaction.atomic():
            list(DataSubject.objects.select_for_update().filter(pk=case.subject_id).values_list("pk"))  # wait
            if gateways.last_erasure_certificate_id(subject_id=case.subject_id) != erased_before:
                raise ValidationError(
                    "The subject was erased while the package was being built; it was destroyed unsent.",
                    code="erased_during_build",
                )
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
                expires_at=now + conf.package_ttl(),
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


def access_fulfil(case: PrivacyRequest, actor: Actor, heartbeat) -> None:
    """Build the package; it is sent at once, or (the default) once an officer approved it."""
    from .. import gateways

    gateways.connectors_gate(case=case, action="access", actor=actor)  # other systems' rows first
    package = access_package_build(case=case, actor=actor, heartbeat=heartbeat)
    with transaction.atomic():
        summary = f"Access package built ({package.record_count} records): waiting for an officer's approval"
        if release_awaits_approval(case=case, actor=actor, summary=summary):
            return
        access_release(case=case, actor=actor, package=package)


def access_release(*, case: PrivacyRequest, actor: Actor, package: AccessPackage) -> None:
    """Send the download link and complete the case (inside the caller's transaction)."""
    with transaction.atomic():
        request_complete(
            case=case,
            actor=actor,
            outcome_note=f"Your data export ({package.record_count} records) is ready to download.",
            notice_context={
                "download_url": package_link(package),
                "download_expires_on": package.expires_at.isoformat(),
            },
            to_email=verification_address(case),
        )


def package_open(*, token: str) -> tuple[AccessPackage, bytes]:
    """Check a download link and return the decrypted ZIP; every download is on the timeline and audited."""
    try:
        payload = signing.loads(token, salt=PACKAGE_SALT, max_age=conf.package_ttl())
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
            pk=package.pk, download_count__lt=conf.package_max_downloads(), purged_at__isnull=True
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


def package_destroy(package: AccessPackage, *, reason: str) -> None:
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
        package_destroy(package, reason="expired")
        count += 1
    return count


def packages_destroy_for_subject(*, subject_id: int) -> None:
    """Erasure hook (inventory.hooks): the subject's exports die with the subject's data."""
    for package in AccessPackage.objects.filter(
        case__subject_id=subject_id, purged_at__isnull=True
    ).select_related("case"):
        package_destroy(package, reason="subject erased")
