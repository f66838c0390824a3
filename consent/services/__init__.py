"""Writes to the consent app: every business rule, each in a transaction, each audited.

- events.py      the ledger and its materialised state (record, grant, withdraw, bulk)
- suppression.py the suppression list (erasure hook, manual entries, lifting)
- policy.py      purposes and privacy-policy versions, 'policy changed' notices
- expiry.py      expiry and re-consent requests, the daily sweep
- imports.py     CSV import of historic opt-in/opt-out lists
- web.py         choices made on the website (banner, GPC, opt-out pages, privacy center)

Other apps use the names re-exported here (BRIEF.md "consent" contract), not the modules.
"""

from ._common import CLOCK_SKEW, COPY_THRESHOLD
from .events import (
    BulkRecordRejected,
    BulkRecordResult,
    ConsentEventInput,
    RecordedItem,
    consent_events_record_bulk,
    consent_grant,
    consent_record,
    consent_withdraw,
    consent_withdraw_all_marketing,
    consent_withdraw_purposes,
)
from .expiry import consent_expiry_sweep, reconsent_request_dismiss, reconsent_requests_open
from .imports import ImportRejected, ImportReport, consent_import_csv
from .policy import (
    policy_change_notices_enqueue_batch,
    policy_text_sha256,
    policy_version_create,
    policy_version_publish,
    policy_version_update,
    purpose_create,
    purpose_update,
)
from .suppression import consent_suppress_before_erasure, suppression_add, suppression_lift
from .web import WebChoiceResult, web_choice_record, web_device_get_or_create, web_device_link_person

__all__ = [
    "CLOCK_SKEW",
    "COPY_THRESHOLD",
    "BulkRecordRejected",
    "BulkRecordResult",
    "ConsentEventInput",
    "ImportRejected",
    "ImportReport",
    "RecordedItem",
    "WebChoiceResult",
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
    "web_choice_record",
    "web_device_get_or_create",
    "web_device_link_person",
]
