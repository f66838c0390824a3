"""Notices: editable templates, the transactional outbox, and the breach register.

The outbox (`Notice`) is written in the same database transaction as the business change that causes
it; delivery happens afterwards, in a Celery task that claims the row (see notices.services).
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models import DataCategory, DataSubject

from . import conf, rules


class NoticeKind(models.TextChoices):
    """Every message the product sends. Values are a cross-app contract (docs/design.md, notices); don't rename."""

    REQUEST_ACKNOWLEDGED = "request_acknowledged", "Request acknowledged"
    IDENTITY_VERIFICATION = "identity_verification", "Identity verification"
    REQUEST_COMPLETED = "request_completed", "Request completed"
    DEADLINE_EXTENDED = "deadline_extended", "Deadline extended"
    REQUEST_DENIED = "request_denied", "Request denied (with reasons)"
    ERASURE_CONFIRMATION = "erasure_confirmation", "Erasure confirmation"
    ERASURE_PARTIAL = "erasure_partial", "Erasure partly deferred (records kept under an exception)"
    NOTICE_1798_83_DELIVERED = "notice_1798_83_delivered", "Cal. 1798.83 notice delivered"
    POLICY_CHANGED = "policy_changed", "Privacy policy changed"
    BREACH_NOTIFICATION = "breach_notification", "Breach notification"
    OPT_OUT_CONFIRMED = "opt_out_confirmed", "Opt-out confirmed"
    ASSIGNEE_REMINDER = "assignee_reminder", "Reminder to the case assignee"
    RECIPIENT_NOTIFICATION = "recipient_notification", "Notice to a recipient (GDPR Art. 19 / CCPA 1798.105)"
    OPERATIONS_REPORT = "operations_report", "Report to privacy officers"
    MARKETING = "marketing", "Marketing message"


class NoticeTemplate(models.Model):
    """The wording of one kind of notice in one language, as Django templates rendered in a sandbox.

    Exactly one version per (kind, language) is active; every change of wording gets a new version
    number, and each Notice keeps the version and the text it was rendered with, so what a person was
    told can always be shown. Templates see plain data only (notices.rendering).
    """

    kind = models.CharField(max_length=40, choices=NoticeKind.choices)
    language = models.CharField(max_length=10, default="en", help_text="BCP 47 code, e.g. en, de, fr-CA.")
    version = models.PositiveIntegerField(default=1, editable=False)
    active = models.BooleanField(
        default=True, help_text="The active version is used for new notices; one per kind and language."
    )
    description = models.CharField(max_length=200, blank=True, help_text="What changed, for reviewers.")
    subject_template = models.CharField(max_length=300, help_text="Email subject line (Django template).")
    body_text_template = models.TextField(help_text="Plain-text body (Django template, not escaped).")
    body_html_template = models.TextField(
        blank=True, help_text="HTML body fragment (Django template, auto-escaped). Empty: text only."
    )
    sample_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="Extra sample data for the preview and the render check; merged over the kind's defaults.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "language", "version"], name="notices_template_version_uniq"
            ),
            models.UniqueConstraint(
                fields=["kind", "language"], condition=Q(active=True), name="notices_template_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} [{self.language}] v{self.version}"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Notice(models.Model):
    """One message in the transactional outbox: written with the business change, delivered once.

    Holds personal data (the address and the rendered text), so it is registered in the personal-data
    registry: erasure hashes the address and empties the text; the row itself stays as evidence that
    a notice of this kind was sent, and when.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(
        max_length=200,
        unique=True,
        help_text="Chosen by the caller (e.g. case id + kind): one notice per key.",
    )
    kind = models.CharField(max_length=40, choices=NoticeKind.choices)
    language = models.CharField(max_length=10, default="en")
    template = models.ForeignKey(
        NoticeTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    template_version = models.PositiveIntegerField(null=True, blank=True)
    subject = models.ForeignKey(
        DataSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    breach = models.ForeignKey(
        "Breach", null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    marketing_purpose = models.CharField(
        max_length=60,
        blank=True,
        help_text="Consent purpose of a marketing message; empty when transactional.",
    )
    # Personal data (erased through the registry): address, rendered text, headers with links.
    to_email = models.CharField(max_length=254, null=True, blank=True)
    email_subject = models.TextField(null=True, blank=True)
    body_text = models.TextField(null=True, blank=True)
    body_html = models.TextField(null=True, blank=True)
    headers = models.JSONField(null=True, blank=True, default=dict)
    # Delivery state.
    status = models.CharField(max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(
        null=True, blank=True, help_text="Reason of the last failure (no addresses)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When a delivery task was last queued for this notice."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True, help_text="User or job that asked for it.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="notices_notice_status_created"),
            models.Index(
                fields=["dispatched_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notices_notice_open",
            ),
            models.Index(fields=["sent_at"], name="notices_notice_sent_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=NoticeStatus.values), name="notices_notice_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="notices_notice_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False, claim_token__isnull=False),
                name="notices_notice_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(kind="marketing") | ~Q(marketing_purpose=""),
                name="notices_notice_marketing_has_purpose",
            ),
        ]
        permissions = [("retry_notice", "Can retry or cancel the delivery of a notice")]

    def __str__(self) -> str:
        # No address: this string ends up in admin logs and messages.
        return f"{self.get_kind_display()} {str(self.public_id)[:8]}"

    @property
    def is_marketing(self) -> bool:
        return bool(self.marketing_purpose)

    @property
    def message_id(self) -> str:
        """Stable RFC 5322 Message-ID: a re-send after a crash carries the same id (clients dedupe)."""
        domain = conf.from_email().rsplit("@", 1)[-1].strip(">") or "privacyops.local"
        return f"<notice.{self.public_id}@{domain}>"


class BreachStatus(models.TextChoices):
    DRAFT = "draft", "Recorded (subjects not yet notified)"
    NOTIFYING = "notifying", "Notifying subjects"
    NOTIFIED = "notified", "Subjects notified"
    CLOSED = "closed", "Closed"


class CaDelayKind(models.TextChoices):
    """Why notifying California residents may wait (Cal. Civ. Code §1798.82(a), (c) as amended)."""

    NONE = "", "No delay"
    LAW_ENFORCEMENT = "law_enforcement", "A law enforcement agency asked for a delay (§1798.82(c))"
    SCOPE_INTEGRITY = "scope_integrity", "Determining the scope and restoring integrity (§1798.82(a))"


class Art34Decision(models.TextChoices):
    """Whether data subjects in the EU are told (GDPR Art. 34), and if not, on which ground."""

    UNDECIDED = "", "Not decided yet"
    NOTIFY = "notify", "Notify the data subjects (Art. 34(1): likely high risk)"
    NO_HIGH_RISK = "no_high_risk", "Not notified: no likely high risk (Art. 34(1))"
    PROTECTED = "art34_3_a", "Not notified: data unintelligible, e.g. encrypted (Art. 34(3)(a))"
    MITIGATED = "art34_3_b", "Not notified: high risk no longer likely after measures (Art. 34(3)(b))"
    PUBLIC = "art34_3_c", "Public communication instead: disproportionate effort (Art. 34(3)(c))"


class Breach(models.Model):
    """A personal-data breach in the register (GDPR Art. 33(5): document every breach).

    Carries the facts, the clocks that run from discovery and awareness (notices.rules), the wording
    of the California headings, and the selection of affected subjects as data, so the subject
    notices can be sent in resumable batches with their progress stored here.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200, help_text="Internal short name of the incident.")
    status = models.CharField(max_length=10, choices=BreachStatus.choices, default=BreachStatus.DRAFT)
    # Facts.
    what_happened = models.TextField(help_text="General description of the incident (notice: What Happened).")
    occurred_from = models.DateField(
        null=True, blank=True, help_text="Date or first date of the breach, if known."
    )
    occurred_until = models.DateField(null=True, blank=True, help_text="Last date, when it is a range.")
    discovered_at = models.DateTimeField(help_text="When the breach was discovered (California clock).")
    aware_at = models.DateTimeField(
        help_text="When the company became aware that personal data was affected (GDPR 72-hour clock)."
    )
    categories = models.ManyToManyField(
        DataCategory, blank=True, related_name="+", help_text="Categories of data involved."
    )
    information_involved = models.TextField(
        blank=True,
        help_text="Which pieces of information were involved (notice: What Information Was Involved).",
    )
    likely_consequences = models.TextField(blank=True, help_text="Likely consequences (GDPR Art. 33(3)(c)).")
    # Notice wording (California headings, Civ. Code §1798.82(d)(1)).
    what_we_are_doing = models.TextField(blank=True)
    what_you_can_do = models.TextField(blank=True)
    for_more_information = models.TextField(blank=True)
    # Supervisory authority (GDPR Art. 33(1)).
    authority_notified_at = models.DateTimeField(null=True, blank=True)
    authority_reference = models.CharField(max_length=100, blank=True)
    delay_reason = models.TextField(
        blank=True, help_text="Reasons for notifying the authority after 72 hours (GDPR Art. 33(1))."
    )
    authority_exempt_reason = models.TextField(
        blank=True,
        help_text="Why the authority is not notified: the breach is unlikely to result in a risk to people's "
        "rights and freedoms (GDPR Art. 33(1)). Documented here instead (Art. 33(5)).",
    )
    # California.
    ca_notice_exempt_reason = models.TextField(
        blank=True,
        help_text="Why California residents are not notified (e.g. no data element listed in Cal. Civ. Code "
        "§1798.82(h) was involved, or it was encrypted and the key was not compromised).",
    )
    law_enforcement_delay = models.BooleanField(
        default=False, help_text="Notification delayed at the request of a law enforcement agency."
    )
    law_enforcement_note = models.TextField(blank=True)
    # A documented delay pauses the California 30-day clock for its dates (issue 14 item 13).
    ca_delay_kind = models.CharField(max_length=20, choices=CaDelayKind.choices, blank=True, default="")
    ca_delay_reason = models.TextField(
        blank=True, help_text="Who asked for the delay, or what is being done."
    )
    ca_delay_from = models.DateTimeField(null=True, blank=True, help_text="When the delay began.")
    ca_delay_until = models.DateTimeField(
        null=True, blank=True, help_text="When it ended (empty: still delayed; the clock stays paused)."
    )
    # GDPR Art. 34: the decision on telling the data subjects, and why.
    art34_decision = models.CharField(max_length=20, choices=Art34Decision.choices, blank=True, default="")
    art34_reason = models.TextField(
        blank=True,
        help_text="Why subjects are (not) told: the risk assessment or the Art. 34(3) ground's facts.",
    )
    ag_sample_submitted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the sample notice was submitted to the California Attorney General.",
    )
    # Affected subjects: {"categories": [...], "countries": [...], "regions": [...],
    # "created_from": "YYYY-MM-DD", "created_to": "YYYY-MM-DD", "subject_ids": [...]} (see selectors).
    selection = models.JSONField(default=dict, blank=True)
    # Notification progress (written by the batch service; resumable from the cursor).
    ca_residents_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    notify_total = models.PositiveIntegerField(default=0, editable=False)
    notify_max_subject_id = models.BigIntegerField(null=True, blank=True, editable=False)
    notify_cursor = models.BigIntegerField(default=0, editable=False)
    notify_processed = models.PositiveIntegerField(default=0, editable=False)
    notify_enqueued = models.PositiveIntegerField(default=0, editable=False)
    notify_skipped = models.PositiveIntegerField(default=0, editable=False, help_text="No email address.")
    notify_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    notify_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    notify_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-discovered_at"]
        verbose_name_plural = "breaches"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BreachStatus.values), name="notices_breach_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(occurred_until__isnull=True)
                | Q(occurred_from__isnull=True)
                | Q(occurred_until__gte=models.F("occurred_from")),
                name="notices_breach_occurred_range",
                violation_error_message="The breach can't end before it started.",
            ),
        ]
        permissions = [("notify_breach", "Can notify the subjects affected by a breach")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        if (
            self.discovered_at
            and self.aware_at
            and self.aware_at < self.discovered_at - rules.CLOCK_TOLERANCE
        ):
            errors["aware_at"] = "Awareness can't come before the breach was discovered."
        if (
            self.authority_notified_at
            and self.aware_at
            and self.authority_notified_at > self.eu_authority_due
            and not self.delay_reason.strip()
        ):
            errors["delay_reason"] = (
                "The authority was notified more than 72 hours after awareness: GDPR Art. 33(1) requires "
                "the reasons for the delay."
            )
        if self.authority_notified_at and self.authority_exempt_reason.strip():
            errors["authority_exempt_reason"] = "The authority was notified: remove the exemption reason."
        if self.law_enforcement_delay and not self.law_enforcement_note.strip():
            errors["law_enforcement_note"] = "Say which agency asked for the delay and until when."
        errors.update(self._delay_and_art34_errors())
        if errors:
            raise ValidationError(errors)

    def _delay_and_art34_errors(self) -> dict[str, str]:
        errors = {}
        if self.ca_delay_kind and (not self.ca_delay_reason.strip() or self.ca_delay_from is None):
            errors["ca_delay_reason"] = (
                "A delay needs its reason and the date it began (Cal. Civ. Code §1798.82)."
            )
        if self.ca_delay_from and self.ca_delay_until and self.ca_delay_until < self.ca_delay_from:
            errors["ca_delay_until"] = "The delay can't end before it began."
        if (self.ca_delay_from or self.ca_delay_until) and not self.ca_delay_kind:
            errors["ca_delay_kind"] = "Say why notification was delayed."
        decided = self.art34_decision not in (Art34Decision.UNDECIDED, Art34Decision.NOTIFY)
        if decided and not self.art34_reason.strip():
            errors["art34_reason"] = (
                "Not telling the data subjects needs the reason (GDPR Art. 34(1), 34(3))."
            )
        return errors

    @property
    def eu_authority_due(self) -> datetime:
        return rules.clock_due(rules.EU_AUTHORITY, self)

    @property
    def ca_consumers_due(self) -> datetime:
        return rules.clock_due(rules.CA_CONSUMERS, self)

    @property
    def ag_sample_required(self) -> bool:
        return (self.ca_residents_count or 0) > rules.CA_AG_SAMPLE_THRESHOLD
