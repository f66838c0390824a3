"""Writes to the consent app: every business rule, each in a transaction, each audited.

- record.py      recording consent events (bulk, one event, a grant); every event goes through it
  inputs.py      its input and result types; checks.py the checks before writing;
  append.py      appending to the ledger (the COPY writer); state.py folding into ConsentState
- withdraw.py    withdrawing one purpose, several, or all marketing (one confirmation)
- events.py      the former module name of record/withdraw, re-exporting them
- suppression.py the suppression list (erasure hook, manual entries, lifting)
- policy.py      purposes and privacy-policy versions, 'policy changed' notices
- expiry.py      expiry and re-consent requests, the daily sweep
- imports.py     CSV import of historic opt-in/opt-out lists

Other apps use the names re-exported here (docs/design.md, the consent section), not the modules.
"""

from .common import CLOCK_SKEW, COPY_THRESHOLD
from .expiry import consent_expiry_sweep, reconsent_request_dismiss, reconsent_requests_open
from .imports import ImportRejected, ImportReport, consent_import_csv
from .inputs import BulkRecordRejected, BulkRecordResult, ConsentEventInput, RecordedItem
from .policy import (
    policy_change_notices_enqueue_batch,
    policy_text_sha256,
    policy_version_create,
    policy_version_publish,
    policy_version_update,
    purpose_create,
    purpose_update,
)
from .record import consent_events_record_bulk, consent_grant, consent_record
from .suppression import consent_suppress_before_erasure, suppression_add, suppression_lift
from .withdraw import consent_withdraw, consent_withdraw_all_marketing, consent_withdraw_purposes

__all__ = [
    "CLOCK_SKEW",
    "COPY_THRESHOLD",
    "BulkRecordRejected",
    "BulkRecordResult",
    "ConsentEventInput",
    "ImportRejected",
    "ImportReport",
    "RecordedItem",
    "consent_events_record_bulk",
    "consent_expiry_sweep",
    "consent_grant",
    "consent_import_csv",
    "consent_record",
    "consent_suppress_before_erasure",
    "consent_withdraw",
    "consent_withdraw_all_marketing",
    "consent_withdraw_purposes",
    "policy_change_notices_enqueue_batch",
    "policy_text_sha256",
    "policy_version_create",
    "policy_version_publish",
    "policy_version_update",
    "purpose_create",
    "purpose_update",
    "reconsent_request_dismiss",
    "reconsent_requests_open",
    "suppression_add",
    "suppression_lift",
]
