"""Every write to a case, one module per use case; this package re-exports the public API.

intake (a new case), verification (identity and authority), officer_actions (assign, extend, deny,
complete, ...), reminders, fulfilment (attempts, the watchdog, the per-type handler table), access
(packages), rectification, erasure, opt_out, notice_1798_83, recipients (GDPR Art. 19), legal_holds.
The shared case primitives (lock, transition, events, notices) are in `requests_app.workflow`.
"""

from ..workflow import STATUS_SALT, case_event, send_case_notice, status_link, verification_address
from .access import (
    PACKAGE_SALT,
    access_package_build,
    package_destroy,
    package_link,
    package_open,
    package_path,
    packages_destroy_for_subject,
    packages_purge_expired,
)
from .deferred_erasure import erasure_resume, erasures_resume_after_release
from .fulfilment import (
    ACTION_FOR_TYPE,
    HANDLERS,
    FulfilmentRetry,
    attempt_heartbeat,
    fulfil_if_automatic,
    fulfilment_give_up,
    fulfilment_run,
    fulfilment_watchdog,
    request_fulfil,
)
from .intake import compute_due_dates, find_possible_duplicate, request_create
from .legal_holds import request_legal_hold_place, request_legal_hold_release
from .officer_actions import (
    request_assign,
    request_complete,
    request_deny,
    request_extend,
    request_note_add,
    request_set_fee,
    request_set_lookback,
    request_withdraw,
)
from .public_intake import public_intake_open, public_intake_requeue_stale, public_intake_submit
from .recipients import (
    recipient_notifications_create,
    recipient_notify,
    recipient_notify_failed,
    request_complete_restriction,
)
from .rectification import rectifiable_fields, rectification_add, rectification_apply
from .release import request_release_approve
from .reminders import reminders_send
from .verification import (
    VERIFY_SALT,
    VerificationLinkError,
    request_mark_identity_in_doubt,
    request_verify_authority,
    request_verify_manually,
    verification_confirm,
    verification_resend_expired,
    verification_start,
    verification_token_read,
)

__all__ = [
    "ACTION_FOR_TYPE",
    "HANDLERS",
    "PACKAGE_SALT",
    "STATUS_SALT",
    "VERIFY_SALT",
    "FulfilmentRetry",
    "VerificationLinkError",
    "access_package_build",
    "attempt_heartbeat",
    "case_event",
    "compute_due_dates",
    "erasure_resume",
    "erasures_resume_after_release",
    "find_possible_duplicate",
    "fulfil_if_automatic",
    "fulfilment_give_up",
    "fulfilment_run",
    "fulfilment_watchdog",
    "package_destroy",
    "package_link",
    "package_open",
    "package_path",
    "packages_destroy_for_subject",
    "packages_purge_expired",
    "public_intake_open",
    "public_intake_requeue_stale",
    "public_intake_submit",
    "recipient_notifications_create",
    "recipient_notify",
    "recipient_notify_failed",
    "rectifiable_fields",
    "rectification_add",
    "rectification_apply",
    "reminders_send",
    "request_assign",
    "request_complete",
    "request_complete_restriction",
    "request_create",
    "request_deny",
    "request_extend",
    "request_fulfil",
    "request_legal_hold_place",
    "request_legal_hold_release",
    "request_mark_identity_in_doubt",
    "request_release_approve",
    "request_note_add",
    "request_set_fee",
    "request_set_lookback",
    "request_verify_authority",
    "request_verify_manually",
    "request_withdraw",
    "send_case_notice",
    "status_link",
    "verification_address",
    "verification_confirm",
    "verification_resend_expired",
    "verification_start",
    "verification_token_read",
]
