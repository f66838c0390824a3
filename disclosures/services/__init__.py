"""Writes of the disclosures app, one module per use case, re-exported here as the app's public API.

- `log`: classify a share and log it (batches of disclosure events)
- `settings`: the §1798.83 settings row and the category mapping
- `notices_1798_83`: deliver, preview and open a customer's §1798.83 notice
- `corrections`: §1798.84(d) cures of wrong notices
- `exports`: analyst exports of the year's statements

Every write takes keyword-only arguments, runs in a transaction and records an audit event with ids
and codes only. Personal data never goes into messages, audit details or task arguments.
"""

from .common import FIRST_NOTICE_YEAR, FUTURE_TOLERANCE, validate_year
from .corrections import (
    correction_open,
    correction_send_notices,
    correction_send_start,
    corrections_check_deadlines,
)
from .exports import (
    EXPORT_RETENTION,
    export_build,
    export_downloaded,
    export_file_path,
    export_request,
    export_retry,
    export_written,
    exports_dir,
    exports_purge_expired,
    write_export,
)
from .log import (
    BatchConflict,
    BatchResult,
    OptedOutSubjects,
    TransferAfterOptOut,
    categories_resolve,
    disclosure_batch_record,
    disclosure_record,
    payload_fingerprint,
)
from .notices_1798_83 import (
    NOTICE_LINK_MAX_AGE,
    NOTICE_LINK_SALT,
    notice_1798_83_deliver,
    notice_context,
    notice_link_open,
    notice_link_token,
    notice_links,
    notice_previewed,
    notice_viewed,
)
from .settings import (
    SETTINGS_FIELDS,
    category_mapping_delete,
    category_mapping_save,
    disclosure_settings_update,
)

__all__ = [
    "EXPORT_RETENTION",
    "FIRST_NOTICE_YEAR",
    "FUTURE_TOLERANCE",
    "NOTICE_LINK_MAX_AGE",
    "NOTICE_LINK_SALT",
    "SETTINGS_FIELDS",
    "BatchConflict",
    "BatchResult",
    "OptedOutSubjects",
    "TransferAfterOptOut",
    "categories_resolve",
    "category_mapping_delete",
    "category_mapping_save",
    "correction_open",
    "correction_send_notices",
    "correction_send_start",
    "corrections_check_deadlines",
    "disclosure_batch_record",
    "disclosure_record",
    "disclosure_settings_update",
    "export_build",
    "export_downloaded",
    "export_file_path",
    "export_request",
    "export_retry",
    "export_written",
    "exports_dir",
    "exports_purge_expired",
    "notice_1798_83_deliver",
    "notice_context",
    "notice_link_open",
    "notice_link_token",
    "notice_links",
    "notice_previewed",
    "notice_viewed",
    "payload_fingerprint",
    "validate_year",
    "write_export",
]
