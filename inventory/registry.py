"""The personal-data registry: every model holding personal data declares it here, once.

DSAR discovery, access packages, erasure, retention sweeps and 1798.83 notices iterate the registry;
none of them names a model. A test fails when a model with a foreign key to DataSubject is neither
registered nor explicitly exempted with a reason, so new personal data can't be forgotten.

    registry.register(
        ContactPoint, subject="subject", category="contact", collected_at="collected_at",
        erase=DELETE,
    )
    registry.register(
        UserAccount, subject="subject", category="account", collected_at="collected_at",
        erase={"username": HASH, "payment_method_reference": SHRED, "last_login_at": NULL},
        anchors={"closed": "closed_at", "last_login": "last_login_at"},
    )
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from django.core import checks
from django.db import models


class Erase(StrEnum):
    """How one field (or the whole row) is erased. Names are recorded in journals and certificates."""

    DELETE = "delete"  # the whole row is deleted
    NULL = "null"  # the value is replaced by NULL / empty
    HASH = "hash"  # the value is replaced by a keyed hash (HMAC, key from the environment)
    SHRED = "crypto_shred"  # always stored encrypted; the ciphertext is dropped / the subject key destroyed


DELETE = Erase.DELETE
NULL = Erase.NULL
HASH = Erase.HASH
SHRED = Erase.SHRED


@dataclass(frozen=True)
class PersonalData:
    """One registered model: where its subject is, what category it holds, and how it is erased."""

    model: type[models.Model]
    subject: str  # path to the DataSubject foreign key; "" when the model is DataSubject itself
    category: str  # DataCategory.code
    collected_at: str
    erase: Erase | Mapping[str, Erase]
    anchors: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    # Ledgers (consent events, disclosure log, ...) are append-only: erasure never writes their rows;
    # their personal data must sit in encrypted fields (SHRED), unreadable once the subject key is gone.
    append_only: bool = False

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    @property
    def subject_lookup(self) -> str:
        """ORM lookup of the subject's id: an indexed column, never a join, for direct links."""
        if not self.subject:
            return "pk"
        return f"{self.subject}_id" if "__" not in self.subject else f"{self.subject}__pk"

    @property
    def deletes_rows(self) -> bool:
        return self.erase == Erase.DELETE

    @property
    def field_strategies(self) -> Mapping[str, Erase]:
        return {} if self.deletes_rows else self.erase  # type: ignore[return-value]

    @property
    def encrypted_fields(self) -> tuple[str, ...]:
        from .fields import EncryptedTextField

        return tuple(f.name for f in self.model._meta.concrete_fields if isinstance(f, EncryptedTextField))

    @property
    def never_exported(self) -> frozenset[str]:
        """Fields an access package leaves out: not the person's data, or a risk (export_policy.py)."""
        from .export_policy import never_exported

        return never_exported(self.label)

    @property
    def timestamp_fields(self) -> Mapping[str, str]:
        """Events a retention period may count from: always `collected`, plus declared anchors."""
        return {"collected": self.collected_at, **self.anchors}

    def for_subject(self, subject_id: int) -> models.QuerySet:
        return self.model._default_manager.filter(**{self.subject_lookup: subject_id})

    def for_subjects(self, subject_ids) -> models.QuerySet:
        return self.model._default_manager.filter(**{f"{self.subject_lookup}__in": subject_ids})

    def all(self) -> models.QuerySet:
        return self.model._default_manager.all()


class Registry:
    def __init__(self) -> None:
        self._entries: dict[type[models.Model], PersonalData] = {}
        self._exempt: dict[type[models.Model], str] = {}

    def register(
        self,
        model: type[models.Model],
        *,
        subject: str,
        category: str,
        collected_at: str,
        erase: Erase | Mapping[str, Erase],
        anchors: Mapping[str, str] | None = None,
        description: str = "",
        append_only: bool = False,
    ) -> PersonalData:
        if model in self._entries:
            raise ValueError(f"{model._meta.label} is already registered as personal data.")
        entry = PersonalData(
            model=model,
            subject=subject,
            category=category,
            collected_at=collected_at,
            erase=erase if isinstance(erase, Erase) else dict(erase),
            anchors=dict(anchors or {}),
            description=description,
            append_only=append_only,
        )
        self._entries[model] = entry
        return entry

    def exempt(self, model: type[models.Model], *, reason: str) -> None:
        """A model that links to a subject but holds no personal data of its own (say why)."""
        self._exempt[model] = reason

    def __iter__(self) -> Iterator[PersonalData]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, model: type[models.Model]) -> PersonalData:
        return self._entries[model]

    def by_label(self, label: str) -> PersonalData:
        for entry in self:
            if entry.label.lower() == label.lower():
                return entry
        raise KeyError(label)

    def for_category(self, code: str) -> list[PersonalData]:
        return [e for e in self if e.category == code]

    def is_covered(self, model: type[models.Model]) -> bool:
        return model in self._entries or model in self._exempt

    @property
    def exemptions(self) -> Mapping[type[models.Model], str]:
        return dict(self._exempt)


registry = Registry()


@checks.register(checks.Tags.models)
def check_registry(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse to start with a registration that names missing fields or can't be erased as declared."""
    errors: list[checks.CheckMessage] = []
    for entry in registry:
        names = {f.name: f for f in entry.model._meta.concrete_fields}
        wanted = [entry.collected_at, *entry.anchors.values(), *entry.field_strategies.keys()]
        if entry.subject and "__" not in entry.subject:
            wanted.append(entry.subject)
        for name in wanted:
            if name not in names:
                errors.append(
                    checks.Error(f"{entry.label}: registry names unknown field '{name}'.", id="registry.E001")
                )
        for name, strategy in entry.field_strategies.items():
            f = names.get(name)
            if f is None:
                continue
            if strategy == Erase.SHRED and name not in entry.encrypted_fields:
                errors.append(
                    checks.Error(
                        f"{entry.label}.{name}: crypto-shred needs a field that is always encrypted.",
                        id="registry.E002",
                    )
                )
            if strategy == Erase.HASH and isinstance(f, models.CharField) and (f.max_length or 0) < 64:
                errors.append(
                    checks.Error(
                        f"{entry.label}.{name}: too short to hold a 64-character hash.", id="registry.E003"
                    )
                )
            if strategy == Erase.NULL and not (f.null or f.blank):
                errors.append(
                    checks.Error(
                        f"{entry.label}.{name}: can't be nulled (null/blank not allowed).", id="registry.E004"
                    )
                )
        if entry.append_only and (entry.deletes_rows or set(entry.field_strategies.values()) - {Erase.SHRED}):
            errors.append(
                checks.Error(
                    f"{entry.label}: an append-only ledger can only be erased by crypto-shredding.",
                    id="registry.E006",
                )
            )
        for name in entry.encrypted_fields:
            if not entry.deletes_rows and name not in entry.field_strategies:
                errors.append(
                    checks.Error(
                        f"{entry.label}.{name}: encrypted field without an erasure strategy.",
                        id="registry.E005",
                    )
                )
    return errors
