"""The consent ledger's services, under their former module name (kept so `consent.services.events` imports work).

The code lives in use-case modules: inputs.py, checks.py, append.py, state.py, record.py, withdraw.py.
"""

from .inputs import BulkRecordRejected, BulkRecordResult, ConsentEventInput, RecordedItem
from .record import consent_events_record_bulk, consent_grant, consent_record
from .withdraw import consent_withdraw, consent_withdraw_all_marketing, consent_withdraw_purposes

__all__ = [
    "BulkRecordRejected",
    "BulkRecordResult",
    "ConsentEventInput",
    "RecordedItem",
    "consent_events_record_bulk",
    "consent_grant",
    "consent_record",
    "consent_withdraw",
    "consent_withdraw_all_marketing",
    "consent_withdraw_purposes",
]
