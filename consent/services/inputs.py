"""What goes into and comes out of consent_events_record_bulk, and the working row each item becomes."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from ..models import Action


@dataclass(frozen=True)
class ConsentEventInput:
    """One event to record. `policy_version` is the label of the version shown (PolicyVersion.version)."""

    subject_id: int
    purpose: str
    action: str
    channel: str
    at: datetime | None = None
    client_event_id: str = ""
    collection_point: str = ""
    policy_version: str = ""
    language: str = "en"
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordedItem:
    index: int
    status: str  # created | duplicate | suppressed (a grant for a suppressed address, recorded as withdrawn)
    event_id: int
    receipt_id: str


@dataclass
class BulkRecordResult:
    items: list[RecordedItem] = field(default_factory=list)
    created: int = 0
    duplicates: int = 0
    suppressed: int = 0
    notices: int = 0


class BulkRecordRejected(ValidationError):
    """Some items are invalid; nothing was recorded. `item_errors` maps item index -> messages."""

    def __init__(self, item_errors: Mapping[int, list[str]]):
        self.item_errors = dict(sorted(item_errors.items()))
        super().__init__(
            f"{len(self.item_errors)} of the events are not valid; nothing was recorded.",
            code="invalid_items",
        )


@dataclass(slots=True)
class EventRow:
    index: int
    item: ConsentEventInput
    at: datetime
    collection_point: str
    language: str
    sealed: str  # canonical JSON of the evidence to seal ("" when none): a str is nothing for the GC to trace
    policy_version_id: int | None = None
    action: str = ""
    suppressed: bool = False
    policy_version_label: str = ""
    sealed_text: str = ""
    purpose_pk: int = 0
    event_id: int = 0
    public_id: str = ""
    received_at: datetime | None = None  # when this batch reached us (the ledger's recorded_at)

    @property
    def rank_at(self) -> datetime:
        """Where the event sits in the fold: a grant at its (clamped) time, a withdrawal at its receipt.

        A withdrawal therefore outranks every grant received before it, whatever time that grant carried
        (CAN-SPAM §7704(a)(4); GDPR Art. 7(3), 21(3)); a grant outranks a withdrawal only when it was given
        after the withdrawal reached us. docs/regulations.md, "Consent and marketing".
        """
        if self.action == Action.WITHDRAW and self.received_at is not None:
            return self.received_at
        return self.at
