"""The demo CRM that `make run` installs."""

from __future__ import annotations

import sqlalchemy as sa

from core.actors import Actor
from inventory.models import System

from ..models import Connection
from .connections import connection_save
from .datasets import dataset_import


def demo_crm_install(*, path: str, subjects: int = 200, actor: Actor = "bootstrap") -> System:
    """A small SQLite "CRM" beside the demo data, filled for the first demo subjects, with its dataset,
    so a demo access request returns rows from it and a demo erasure erases them."""
    from pathlib import Path

    from inventory.models import DataSubject

    from .. import demo

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    engine = sa.create_engine(f"sqlite:///{target}", poolclass=sa.pool.NullPool)
    demo.create_schema(engine)
    people = [
        {"email": s.email_normalized, "name": s.name or "-", "phone": s.phone or None}
        for s in DataSubject.objects.filter(erased_at__isnull=True)
        .exclude(email_normalized="")
        .order_by("id")[:subjects]
    ]
    demo.fill(engine, people)
    engine.dispose()
    system, _ = System.objects.get_or_create(
        code="demo-crm",
        defaults={"name": "Demo CRM", "kind": System.Kind.EXTERNAL, "owner": "Sales operations",
                  "location": "US", "description": "The demo's external CRM (SQLite), reached by the connectors."},
    )  # fmt: skip
    connection_save(system=system, kind=Connection.Kind.SQL, url=f"sqlite:///{target}", actor=actor)
    dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor=actor)
    return system
