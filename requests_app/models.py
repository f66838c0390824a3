"""DSAR cases: the case itself, its append-only timeline, identity tokens, fulfilment work and outputs.

Status changes and every business rule live in services/ (one module per use case); these models only hold
fields and single-row invariants.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import ActorStamped
from inventory.fields import EncryptedTextField
from inventory.models import DataSubject, ThirdParty

from . import deadlines


class RequestType(models.TextChoices):
    ACCESS = "access", "Access (right to know)"
    PORTABILITY = "portability", "Data portability"
    RECTIFICATION = "rectification", "Rectification / correction"
    ERASURE = "erasure", "Erasure / deletion"
    RESTRICTION = "restriction", "Restriction / objection"
    OPT_OUT = "opt_out", "Marketing opt-out / opt-out of sale or sharing"
    NOTICE_1798_83 = "notice_1798_83", "California 1798.83 disclosure notice"
    MINOR_DELETION = "minor_deletion", "Minor's data deletion"
    # Cal. Civ. Code §1798.121; 11 CCR §7027 (issue 14 item 14).
    LIMIT_SENSITIVE = "limit_sensitive", "Limit the use of sensitive personal information"


class Regime(models.TextChoices):
    GDPR = deadlines.GDPR, "GDPR"
    CCPA = deadlines.CCPA, "CCPA/CPRA"
    CAL_1798_83 = deadlines.CAL_1798_83, "Cal. Civ. Code §1798.83"
    COPPA = deadlines.COPPA, "COPPA"
    OTHER = deadlines.OTHER, "Other"


class Channel(models.TextChoices):
    WEB = "web", "Web form"
    EMAIL = "email", "Email"
    PHONE = "phone", "Telephone"
    MAIL = "mail", "Postal mail"


class RequesterKind(models.TextChoices):
    SUBJECT = "subject", "The data subject"
    AGENT = "agent", "Authorised agent"
    PARENT = "parent", "Parent or guardian"


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    VERIFYING = "verifying", "Verifying identity"
    IDENTITY_IN_DOUBT = "identity_in_doubt", "Identity in doubt (GDPR Art. 12(6))"
    IN_PROGRESS = "in_progress", "In progress"
    # Issue 14: an erasure partly deferred by a legal hold is not "completed" (GDPR Art. 17(3), 12(4)).
    WAITING_HOLD_RELEASE = "waiting_hold_release", "Waiting for hold release"
    # Issue 14: a built package leaves only once an officer approved it (REQUESTS_RELEASE_NEEDS_APPROVAL).
    AWAITING_APPROVAL = "awaiting_approval", "Waiting for officer approval"
    COMPLETED = "completed", "Completed"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = (
    Status.RECEIVED,
    Status.VERIFYING,
    Status.IDENTITY_IN_DOUBT,
    Status.IN_PROGRESS,
    Status.WAITING_HOLD_RELEASE,
    Status.AWAITING_APPROVAL,
)
CLOSED_STATUSES = (Status.COMPLETED, Status.DENIED, Status.WITHDRAWN)


class VerificationLevel(models.TextChoices):
    # 11 CCR §§7060-7062 (docs/regulations.md 'CCPA verification'); ordered weakest first.
    NONE = "none", "None needed"
    BASIC = "basic", "Control of the email address on file"
    REASONABLE = "reasonable", "Reasonable degree (2 matching data points)"
    HIGH = "high", "Reasonably high degree (3 data points + signed declaration)"


class VerificationMethod(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    EMAIL_LINK = "email_link", "Signed link sent to the email on file"
    PHONE = "phone", "Manual: telephone"
    MAIL = "mail", "Manual: postal mail"
    IN_PERSON = "in_person", "Manual: in person / documents"


class DenialBasis(models.TextChoices):
    IDENTITY_NOT_VERIFIED = "identity_not_verified", "Identity could not be verified"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded", "Manifestly unfounded (GDPR Art. 12(5))"
    EXCESSIVE = "excessive", "Excessive / repetitive (GDPR Art. 12(5))"
    FREQUENCY_LIMIT = "frequency_limit", "More than 2 requests to know in 12 months (CCPA §1798.130(b))"
    YEARLY_1798_83 = "yearly_1798_83", "1798.83 notice already given this calendar year (§1798.83(c)(1))"
    EXEMPTION = "exemption", "Legal exemption applies"
    NO_AUTHORITY = "no_authority", "Agent's or parent's authority not shown"
    NO_DATA = "no_data", "No personal data held"
    OTHER = "other", "Other (see reason)"


class PrivacyRequest(models.Model):
    """A privacy request (DSAR) case run by privacy officers, from intake to completion or refusal.

    Request records are kept at least 24 months (11 CCR §7101); erasing the subject blanks the requester's
    contact fields (registry), never the facts of the case (dates, type, response, denial basis).
    """

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=20, choices=RequestType.choices)
    regime = models.CharField(max_length=20, choices=Regime.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    status_changed_at = models.DateTimeField()

    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="privacy_requests")
    requester_kind = models.CharField(
        max_length=10, choices=RequesterKind.choices, default=RequesterKind.SUBJECT
    )
    requester_name = models.CharField(max_length=200, blank=True)
    requester_email = models.CharField(max_length=254, blank=True)
    requester_phone = models.CharField(max_length=40, blank=True)
    requester_postal_address = models.TextField(blank=True)
    description = models.TextField(blank=True, help_text="What the requester asked for, in their words.")

    # Authorised agent (11 CCR §7063) or parent (16 CFR §312.6): the authority shown and who checked it.
    authority_document = models.CharField(
        max_length=200,
        blank=True,
        help_text="Reference of the signed permission, power of attorney or proof.",
    )
    authority_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authority_verified_at = models.DateTimeField(null=True, blank=True)

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_privacy_requests",
    )

    received_at = models.DateTimeField()
    received_at_designated_address = models.BooleanField(
        default=True, help_text="Cal. 1798.83(b)(1): at the designated address/email/toll-free number."
    )
    acknowledge_due_on = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    first_due_on = models.DateField(null=True, blank=True, help_text="Due date before any extension.")
    due_on = models.DateField(null=True, blank=True, db_index=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)

    verification_level_required = models.CharField(
        max_length=12, choices=VerificationLevel.choices, default=VerificationLevel.BASIC
    )
    verification_level_achieved = models.CharField(
        max_length=12, choices=VerificationLevel.choices, blank=True
    )
    verification_method = models.CharField(max_length=12, choices=VerificationMethod.choices, blank=True)
    data_points_matched = models.PositiveSmallIntegerField(
        default=0, help_text="Data points given at intake that match what we already held (11 CCR §7060)."
    )
    signed_declaration = models.BooleanField(
        default=False, help_text="Declaration under penalty of perjury (11 CCR §7062(b))."
    )
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    doubt_reason = models.TextField(blank=True, help_text="Why identity is in doubt (GDPR Art. 12(6)).")

    possible_duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lookback_from = models.DateField(
        null=True, blank=True, help_text="CCPA: access package covers records collected since this date."
    )
    fee_amount = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    fee_justification = models.TextField(blank=True, help_text="GDPR Art. 12(5): why a fee is charged.")

    denial_basis = models.CharField(max_length=30, choices=DenialBasis.choices, blank=True)
    denial_reason = models.TextField(blank=True)
    outcome_note = models.TextField(blank=True, help_text="What was done (shown to the requester).")
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    unassigned_reminder_at = models.DateTimeField(null=True, blank=True)
    due_reminder_for = models.DateField(
        null=True, blank=True, help_text="Due date the assignee was reminded of."
    )
    stuck_reason = models.CharField(max_length=300, blank=True, help_text="Set by the stuck-work watchdog.")
    stuck_at = models.DateTimeField(null=True, blank=True)
    erasure_certificate_id = models.PositiveBigIntegerField(null=True, blank=True)
    legal_hold_id = models.PositiveBigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "privacy request"
        indexes = [
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["subject", "type", "received_at"]),
            models.Index(fields=["received_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(extended_at__isnull=True) | ~Q(extension_reason=""),
                name="requests_extension_has_reason",
            ),
            models.CheckConstraint(
                # The reason text may be blanked by erasure; the basis code is kept (11 CCR §7101).
                condition=~Q(status="denied") | ~Q(denial_basis=""),
                name="requests_denial_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(fee_amount__isnull=True) | Q(fee_amount=0) | ~Q(fee_justification=""),
                name="requests_fee_is_justified",
            ),
        ]
        permissions = [
            ("verify_privacyrequest", "Can verify a requester's identity"),
            ("fulfil_privacyrequest", "Can fulfil a privacy request"),
            ("deny_privacyrequest", "Can deny a privacy request"),
            ("view_request_metrics", "Can download the request metrics report"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {str(self.reference)[:8]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseEvent(ActorStamped):
    """One entry of a case's timeline: transitions, notes, notices, exports, verification, fulfilment.

    Append-only in the database (a DSAR log kept 24 months, 11 CCR §7101). Each event is also written to
    the audit chain. Free text (an officer's note) is sealed under the subject's data key so erasing the
    subject crypto-shreds it without rewriting the ledger.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Case created"
        TRANSITION = "transition", "Status changed"
        NOTE = "note", "Note"
        ASSIGNED = "assigned", "Assigned"
        NOTICE = "notice", "Notice sent"
        VERIFICATION = "verification", "Verification"
        EXTENSION = "extension", "Deadline extended"
        DUPLICATE = "duplicate", "Possible duplicate"
        FULFILMENT = "fulfilment", "Fulfilment"
        EXPORT = "export", "Export built"
        DOWNLOAD = "download", "Export downloaded"
        RECTIFICATION = "rectification", "Rectification applied"
        ERASURE = "erasure", "Erasure"
        RECIPIENT = "recipient", "Recipient notification"
        LEGAL_HOLD = "legal_hold", "Legal hold"
        STUCK = "stuck", "Stuck work"

    case = models.ForeignKey(PrivacyRequest, on_delete=models.PROTECT, related_name="events")
    # Denormalised so the registry finds a subject's events by one indexed column.
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    summary = models.CharField(max_length=300, help_text="Codes and field names only, never personal data.")
    note = EncryptedTextField(help_text="Officer's free text, sealed under the subject's data key.")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class VerificationToken(models.Model):
    """The record that makes a signed verification link single-use (the link itself is a signed nonce)."""

    case = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="verification_tokens")
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Verification link for {self.case}"


class FulfilmentAttempt(models.Model):
    """One run of a fulfilment task, with a heartbeat, so the watchdog can tell dead work from slow work."""

    class Action(models.TextChoices):
        ACCESS_PACKAGE = "access_package", "Build access package"
        RECTIFICATION = "rectification", "Apply rectification"
        ERASURE = "erasure", "Erase"
        OPT_OUT = "opt_out", "Withdraw marketing consent"
        NOTICE_1798_83 = "notice_1798_83", "Deliver 1798.83 notice"
        MINOR_ERASURE = "minor_erasure", "Erase a minor's data"
        LIMIT_SENSITIVE = "limit_sensitive", "Limit the use of sensitive personal information"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned (re-queued or flagged by the watchdog)"

    case = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="attempts")
    action = models.CharField(max_length=20, choices=Action.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    number = models.PositiveSmallIntegerField(default=1)
    task_id = models.CharField(max_length=64, blank=True)
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, help_text="Error class and code; no personal data.")

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.number} ({self.state})"


class AccessPackage(models.Model):
    """An access/portability export: a ZIP encrypted under its own key, itself wrapped by the master key.

    Emptying `wrapped_key` (expiry, subject erasure) makes the file unreadable even if a copy survives.
    """

    case = models.ForeignKey(PrivacyRequest, on_delete=models.PROTECT, related_name="packages")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(max_length=200)
    wrapped_key = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    record_count = models.PositiveIntegerField()
    categories = models.JSONField(default=list)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    download_count = models.PositiveIntegerField(default=0)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Access package {str(self.public_id)[:8]}"


class Rectification(models.Model):
    """A corrected value an officer entered on a case, applied through the registry by a service."""

    case = models.ForeignKey(PrivacyRequest, on_delete=models.PROTECT, related_name="rectifications")
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+")
    model_label = models.CharField(max_length=100, help_text="Registered model, e.g. inventory.DataSubject.")
    field_name = models.CharField(max_length=100)
    record_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="One record; empty = every record of the subject in that model."
    )
    new_value = EncryptedTextField(help_text="Sealed under the subject's data key.")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    records_changed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.model_label}.{self.field_name}"


class RecipientNotification(models.Model):
    """One recipient (ThirdParty) told of a rectification, erasure or restriction (GDPR Art. 19,
    Cal. Civ. Code §1798.105(c)), tracked per case.

    `sealed_identifiers` holds what the recipient needs to find the person (captured before erasure),
    encrypted under the master key, and is emptied as soon as the notice is handed to the outbox.
    """

    class Action(models.TextChoices):
        ERASURE = "erasure", "Erasure"
        RECTIFICATION = "rectification", "Rectification"
        RESTRICTION = "restriction", "Restriction"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        NO_CONTACT = "no_contact", "No privacy contact on file"

    case = models.ForeignKey(PrivacyRequest, on_delete=models.PROTECT, related_name="recipient_notifications")
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=15, choices=Action.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    sealed_identifiers = models.TextField(blank=True)
    fields_changed = models.JSONField(default=list, blank=True, help_text="Rectification: field names only.")
    attempts = models.PositiveSmallIntegerField(default=0)
    notice_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["case", "third_party__legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "third_party", "action"], name="requests_one_notice_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} notice to {self.third_party}"


class IntakeSubmission(models.Model):
    """A public-form submission waiting for its case, usually for well under a second.

    The form's answer must cost the same whether or not we hold the subject (issue 15 item 2), so the
    request stores what was typed and a task (`open_public_intake`) finds or creates the subject, opens
    the case under `reference` and deletes this row. What was typed is sealed under the master key.
    """

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    received_at = models.DateTimeField()
    sealed = models.TextField(help_text="The typed fields as JSON, sealed under the master key (Fernet).")

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"Web-form submission {str(self.reference)[:8]}"
