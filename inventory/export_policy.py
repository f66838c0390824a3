"""What an access package contains of each registered model: every field is decided, once, here.

An access/portability package carries the person's data (GDPR Art. 15(3), 20; Cal. Civ. Code
§1798.110, §1798.130(a)(3)) and nothing that is not theirs or would weaken security (GDPR Art. 15(4);
11 CCR §7024(d): never passwords, security questions or account credentials): credentials and tokens,
idempotency keys, raw mail headers and our staff's usernames are **never exported**. Every concrete field
of every registered model is either in EXPORTED or in NEVER_EXPORTED; tests/inventory/test_export_policy.py
fails for a new field without a decision (docs/regulations.md, issue 14 item 11).
Labels are strings, so the inventory never imports the apps that register models.
"""

from collections.abc import Mapping

NEVER_EXPORTED: Mapping[str, Mapping[str, str]] = {
    "inventory.UserAccount": {
        "password_hash": "a credential (11 CCR §7024(d))",
    },
    "notices.Notice": {
        "idempotency_key": "an internal idempotency key",
        "headers": "raw mail headers (routing and authentication data of our mail system)",
        "claim_token": "a worker's claim token",
        "requested_by": "a staff username",
        "last_error": "our mail system's error text",
    },
    "consent.ConsentEvent": {
        "actor": "a staff account",
        "actor_label": "a staff username",
        "client_event_id": "an internal idempotency key",
    },
    "requests_app.PrivacyRequest": {
        "assignee": "a staff account",
        "authority_verified_by": "a staff account",
    },
    "requests_app.CaseEvent": {"actor": "a staff account", "actor_label": "a staff username"},
    "requests_app.Rectification": {"created_by": "a staff username"},
    "privacycenter.CenterLink": {"nonce": "a single-use sign-in token (a credential)"},
}

EXPORTED: dict[str, frozenset[str]] = {
    "inventory.DataSubject": frozenset(
        {
            "id",
            "public_id",
            "kind",
            "name",
            "email",
            "email_normalized",
            "phone",
            "postal_address",
            "company",
            "role",
            "country",
            "region",
            "date_of_birth",
            "is_minor",
            "created_at",
            "updated_at",
            "erased_at",
        }
    ),
    "inventory.ContactPoint": frozenset(
        {
            "id",
            "subject",
            "source",
            "system",
            "collected_at",
            "kind",
            "value",
            "value_normalized",
            "is_primary",
        }
    ),
    "inventory.UserAccount": frozenset(
        {
            "id",
            "subject",
            "source",
            "system",
            "collected_at",
            "username",
            "payment_method_reference",
            "payment_brand",
            "last_login_at",
            "closed_at",
        }
    ),
    "inventory.CompanyAffiliation": frozenset(
        {
            "id",
            "subject",
            "source",
            "system",
            "collected_at",
            "company_name",
            "company_size",
            "company_location",
            "job_title",
            "buying_intent",
        }
    ),
    "inventory.MarketingPreference": frozenset(
        {"id", "subject", "source", "system", "collected_at", "channel", "topics", "frequency"}
    ),
    "inventory.SurveyResponse": frozenset(
        {"id", "subject", "source", "system", "collected_at", "survey", "question", "answer"}
    ),
    "inventory.ActivityEvent": frozenset(
        {
            "id",
            "subject",
            "source",
            "system",
            "collected_at",
            "kind",
            "target",
            "ip_address",
            "device_id",
            "cookie_id",
            "user_agent",
            "geo_country",
        }
    ),
    "notices.Notice": frozenset(
        {
            "id",
            "public_id",
            "kind",
            "language",
            "template",
            "template_version",
            "subject",
            "breach",
            "marketing_purpose",
            "to_email",
            "email_subject",
            "body_text",
            "body_html",
            "status",
            "attempts",
            "created_at",
            "dispatched_at",
            "next_attempt_at",
            "claimed_at",
            "sent_at",
            "failed_at",
            "cancelled_at",
        }
    ),
    "consent.ConsentEvent": frozenset(
        {
            "id",
            "public_id",
            "subject",
            "purpose",
            "action",
            "at",
            "recorded_at",
            "channel",
            "source",
            "collection_point",
            "policy_version",
            "language",
            "evidence",
            "suppressed",
            "import_batch",
        }
    ),
    "consent.ConsentState": frozenset(
        {"id", "subject", "purpose", "action", "at", "event", "expires_at", "updated_at"}
    ),
    "consent.WebDevice": frozenset({"id", "public_id", "subject", "person", "region", "created_at"}),
    "privacycenter.CenterLink": frozenset({"id", "subject", "created_at", "expires_at", "used_at"}),
    "consent.ReconsentRequest": frozenset(
        {"id", "subject", "purpose", "expired_at", "status", "created_at", "resolved_at"}
    ),
    "disclosures.DisclosureEvent": frozenset(
        {"id", "subject", "third_party", "purpose", "categories", "at", "agreement_reference", "batch"}
    ),
    "disclosures.DisclosureNoticeRequest": frozenset(
        {
            "id",
            "public_id",
            "subject",
            "year",
            "kind",
            "case_reference",
            "delivered_at",
            "notice_id",
            "statement",
            "repeat_in_year",
            "required",
            "correction",
        }
    ),
    "requests_app.PrivacyRequest": frozenset(
        {
            "id",
            "reference",
            "type",
            "regime",
            "channel",
            "status",
            "status_changed_at",
            "subject",
            "requester_kind",
            "requester_name",
            "requester_email",
            "requester_phone",
            "requester_postal_address",
            "description",
            "authority_document",
            "authority_verified_at",
            "received_at",
            "received_at_designated_address",
            "acknowledge_due_on",
            "acknowledged_at",
            "first_due_on",
            "due_on",
            "extended_at",
            "extension_reason",
            "verification_level_required",
            "verification_level_achieved",
            "verification_method",
            "data_points_matched",
            "signed_declaration",
            "identity_verified_at",
            "doubt_reason",
            "possible_duplicate_of",
            "lookback_from",
            "fee_amount",
            "fee_justification",
            "denial_basis",
            "denial_reason",
            "outcome_note",
            "completed_at",
            "closed_at",
            "unassigned_reminder_at",
            "due_reminder_for",
            "stuck_reason",
            "stuck_at",
            "erasure_certificate_id",
            "legal_hold_id",
            "created_at",
            "updated_at",
        }
    ),
    "requests_app.CaseEvent": frozenset(
        {"id", "case", "subject", "at", "kind", "from_status", "to_status", "summary", "note", "details"}
    ),
    "requests_app.Rectification": frozenset(
        {
            "id",
            "case",
            "subject",
            "model_label",
            "field_name",
            "record_id",
            "new_value",
            "created_at",
            "applied_at",
            "records_changed",
        }
    ),
}


def never_exported(label: str) -> frozenset[str]:
    """Field names of a registered model an access package leaves out."""
    return frozenset(NEVER_EXPORTED.get(label, {}))


def undecided_fields(label: str, field_names: list[str]) -> list[str]:
    """Fields of a registered model with no export decision (a new field: decide before it ships)."""
    decided = EXPORTED.get(label, frozenset()) | never_exported(label)
    return [name for name in field_names if name not in decided]
