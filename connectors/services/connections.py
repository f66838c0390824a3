"""Connections: credentials sealed on save, a test that reports what it reached."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import System

from ..connector import for_system
from ..http import HttpConfigError
from ..models import Connection
from ..secrets import seal, seal_json
from .common import RUN_ERRORS


@transaction.atomic
def connection_save(
    *,
    system: System,
    kind: str,
    actor: Actor,
    url: str | None = None,
    secrets: dict[str, Any] | None = None,
    config: str | None = None,
    owner_email: str | None = None,
    row_cap: int | None = None,
    rate_limit_per_second: float | None = None,
) -> Connection:
    """Create or update a system's connection; credentials given are sealed, omitted ones are kept."""
    conn, _ = Connection.objects.get_or_create(system=system, defaults={"kind": kind})
    conn.kind = kind
    if url is not None or secrets is not None:
        conn.secret = seal(url) if kind == Connection.Kind.SQL else seal_json(secrets or {})
        conn.secret_changed_at = timezone.now()
    if config is not None:
        conn.config = config
    if owner_email is not None:
        conn.owner_email = owner_email
    if row_cap is not None:
        conn.row_cap = row_cap
    if rate_limit_per_second is not None:
        conn.rate_limit_per_second = rate_limit_per_second
    if kind == Connection.Kind.HTTP and conn.config:
        from ..http import parse_config

        try:
            parse_config(conn.config)
        except HttpConfigError as exc:
            raise ValidationError(str(exc)) from None
    conn.full_clean()
    conn.save()
    audit_record(
        action="connectors.connection_saved",
        actor=actor,
        target=conn,
        details={
            "system": system.code,
            "kind": kind,
            "credentials_changed": url is not None or secrets is not None,
        },
    )
    return conn


def connection_test(*, system: System, actor: Actor) -> str:
    """Try the connection and record what it could reach; raises ValidationError when it cannot."""
    try:
        result = for_system(system).probe()
        ok = True
    except RUN_ERRORS as exc:
        result, ok = str(exc), False
    Connection.objects.filter(system=system).update(
        last_test_at=timezone.now(), last_test_result=result[:1000]
    )
    audit_record(action="connectors.connection_tested", actor=actor, target=system, details={"ok": ok})
    if not ok:
        raise ValidationError(result)
    return result
