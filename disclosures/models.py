import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models import DataCategory, DataSubject, ThirdParty

from .statutory import ALL_MASK, StatutoryCategoryChoice, categories_of


class Purpose(models.TextChoices):
    """Why data went to a recipient (policy §5). Only DIRECT_MARKETING counts for §1798.83 notices."""

    SERVICE_PROVISION = "service_provision", "Service provision (processor acting for us)"
    DIRECT_MARKETING = "direct_marketing", "The recipient's own direct marketing"
    LEGAL_REQUEST = "legal_request", "Legal request or obligation"
    BUSINESS_TRANSFER = "business_transfer", "Business transfer (merger, sale, reorganisation)"


class DisclosureSettings(models.Model):
    """The company's §1798.83 set-up: one row (id 1), edited by privacy officers in the admin.

    Lives in the database rather than in settings.py because it is a business fact an officer keeps
    current (head count, designated channels), and every change is audited.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    employee_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Full- and part-time employees. Under 20, §1798.83 does not apply (§1798.83(c)(1)). "
        "Unknown counts as 20 or more.",
    )
    opt_out_route_enabled = models.BooleanField(
        default=False,
        help_text="The company runs the §1798.83(c)(2) alternative: a published policy with a free way "
        "to opt out of sharing with third parties for their direct marketing. When on, logging a "
        "direct-marketing disclosure of a customer without 'share_marketing_partners' consent is refused.",
    )
    business_name = models.CharField(max_length=200)
    business_postal_address = models.TextField()
    designated_postal_address = models.TextField(
        blank=True, help_text="Designated mailing address for §1798.83 requests (§1798.83(b)(1))."
    )
    designated_email = models.EmailField(blank=True, help_text="Designated email address for requests.")
    designated_phone = models.CharField(
        max_length=40, blank=True, help_text="Designated toll-free telephone or fax number, if any."
    )
    show_same_brand_affiliate_count = models.BooleanField(
        default=True,
        help_text="Notices state how many exempt same-brand affiliates received data (§1798.83(f)).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "§1798.83 settings"
        verbose_name_plural = "§1798.83 settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="disclosures_settings_singleton")]

    def __str__(self) -> str:
        return "§1798.83 settings"


class CategoryMapping(models.Model):
    """Which statutory category (of the 27) a field of an inventory DataCategory corresponds to.

    Seeded from disclosures/reference.py, editable by privacy officers. An empty statutory category
    records a deliberate "none of the 27" decision, so a field is never silently unmapped.
    """

    data_category = models.ForeignKey(
        DataCategory, on_delete=models.PROTECT, related_name="statutory_mappings"
    )
    field = models.SlugField(max_length=40, help_text="Element of the data category, e.g. email, phone.")
    statutory_category = models.CharField(
        max_length=60, choices=StatutoryCategoryChoice.choices, blank=True, help_text="Empty: none of the 27."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why (statutory clause, policy section).")

    class Meta:
        ordering = ["data_category__code", "field", "statutory_category"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_category", "field", "statutory_category"], name="disclosures_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        target = self.get_statutory_category_display() if self.statutory_category else "none of the 27"
        return f"{self.data_category.code}.{self.field} → {target}"


class DisclosureBatch(models.Model):
    """One share of data with one recipient: a list of subjects, the same categories, purpose and time.

    A single disclosure is a batch of one. Append-only in the database (evidence). `external_id` makes
    logging from other systems idempotent; `payload_sha256` detects a different payload reusing it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(
        max_length=100, null=True, blank=True, unique=True, help_text="The sending system's batch id."
    )
    payload_sha256 = models.CharField(max_length=64, blank=True)
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    categories = models.IntegerField(
        help_text="Bitmask of the 27 statutory categories (disclosures.statutory)."
    )
    data_categories = models.JSONField(
        default=dict, blank=True, help_text="What the sender declared: {data category: [fields]}."
    )
    at = models.DateTimeField(help_text="When the data was disclosed.")
    agreement_reference = models.CharField(max_length=100, blank=True)
    member_count = models.PositiveIntegerField()
    excluded_count = models.PositiveIntegerField(
        default=0, help_text="Subjects dropped because they opted out (§1798.83(c)(2) route)."
    )
    source = models.CharField(max_length=50, blank=True, help_text="api, admin, or the calling job.")
    recorded_at = models.DateTimeField()
    recorded_by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "disclosure batches"
        permissions = [("log_disclosures", "Can log disclosures from other systems (API)")]
        indexes = [models.Index(fields=["purpose", "at"], name="disclosures_batch_purpose_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(categories__gte=0, categories__lte=ALL_MASK), name="disclosures_batch_mask_range"
            )
        ]

    def __str__(self) -> str:
        return f"Batch {str(self.public_id)[:8]}"

    @property
    def statutory_categories(self) -> list[str]:
        return [c.label for c in categories_of(self.categories)]


class DisclosureEvent(models.Model):
    """The disclosure log: one subject's data went to one recipient, for a purpose, at a time.

    Append-only in the database (trigger from audit.appendonly). Holds ids, codes and a category
    bitmask only, never personal data in clear. Third party, purpose, categories and time are copied
    from the batch so per-customer notices and the year's export read this table alone.
    """

    id = models.BigAutoField(primary_key=True)
    # Indexed by (subject, at) below: serves registry discovery, notices and the export's windows.
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+", db_index=False)
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    categories = models.IntegerField(help_text="Bitmask of the 27 statutory categories.")
    at = models.DateTimeField()
    agreement_reference = models.CharField(max_length=100, blank=True)
    batch = models.ForeignKey(DisclosureBatch, on_delete=models.PROTECT, related_name="events")

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Covering (PostgreSQL): registry discovery, a customer's notice and the export's windows of
            # subject ids are index-only scans, read in subject order without touching the table.
            models.Index(
                fields=["subject", "at"],
                include=["third_party", "categories", "purpose"],
                name="disclosures_event_subject_at",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(categories__gte=0, categories__lte=ALL_MASK), name="disclosures_event_mask_range"
            )
        ]

    def __str__(self) -> str:
        return f"Disclosure #{self.pk}"

    @property
    def statutory_categories(self) -> list[str]:
        return [c.label for c in categories_of(self.categories)]


class NoticeCorrection(models.Model):
    """A §1798.84(d) cure: a notice was found wrong; every affected customer gets a corrected one.

    The defence holds if every affected customer is sent the correct information within 90 days of
    when the business knew or should have known of the failure (`discovered_at`).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open: corrected notices pending"
        CURED = "cured", "Cured: every affected customer corrected in time"
        CURED_LATE = "cured_late", "Corrected after the 90-day clock"
        LAPSED = "lapsed", "Lapsed: 90 days passed with customers pending"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(help_text="Calendar year the wrong notices covered.")
    reason = models.TextField(help_text="What was wrong. No customer names or addresses: ids and codes only.")
    third_party = models.ForeignKey(
        ThirdParty,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Recipient concerned, when the error is about one recipient.",
    )
    discovered_at = models.DateTimeField(help_text="When the business knew or should have known.")
    cure_deadline = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    affected_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=150)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("manage_correction", "Can open §1798.84(d) corrections and send corrected notices")]

    def __str__(self) -> str:
        return f"Correction {str(self.public_id)[:8]} ({self.year})"


class DisclosureNoticeRequest(models.Model):
    """One §1798.83 notice delivered to a customer: what it said, when, for which case.

    `statement` is the notice as sent (categories, recipients' names and addresses, exempt affiliate
    count): no personal data, and enough to re-render it and to find customers a correction affects.
    Append-only in the database: it is the record of what the business told the customer.
    """

    class Kind(models.TextChoices):
        REQUEST = "request", "Customer request"
        CORRECTION = "correction", "Correction (§1798.84(d))"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+", db_index=False)
    year = models.PositiveSmallIntegerField(help_text="Calendar year the notice covers.")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.REQUEST)
    case_reference = models.CharField(max_length=64, blank=True)
    delivered_at = models.DateTimeField()
    notice_id = models.BigIntegerField(null=True, blank=True, help_text="notices.Notice id in the outbox.")
    statement = models.JSONField()
    repeat_in_year = models.BooleanField(
        default=False,
        help_text="A notice for this year had already been delivered on request (§1798.83(c)(1)).",
    )
    required = models.BooleanField(default=True, help_text="§1798.83 applied (20+ employees) when sent.")
    correction = models.ForeignKey(
        NoticeCorrection, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject", "year"], name="disclosures_req_subject_year")]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "year", "case_reference"],
                condition=~Q(case_reference=""),
                name="disclosures_request_once_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"§1798.83 notice {str(self.public_id)[:8]} ({self.year})"


class CorrectionRecipient(models.Model):
    """One customer affected by a correction, and whether the corrected notice went out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Corrected notice sent"
        SKIPPED = "skipped", "Not sent: the customer was erased"

    correction = models.ForeignKey(NoticeCorrection, on_delete=models.PROTECT, related_name="recipients")
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+")
    original_request = models.ForeignKey(
        DisclosureNoticeRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    added_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    corrected_request = models.ForeignKey(
        DisclosureNoticeRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["correction", "subject"], name="disclosures_correction_subject_once"
            )
        ]
        indexes = [models.Index(fields=["correction", "status"], name="disclosures_corr_recipient_st")]

    def __str__(self) -> str:
        return f"Correction recipient #{self.pk}"


class DisclosureExport(models.Model):
    """An analyst's export of a year (CSV rows, ZIP of notices, or the summary), built by a Celery task.

    The file lives under MEDIA_ROOT/exports with an unguessable name and is served only through the
    admin to users with `run_export`; each download is audited. Files expire (see schedules).
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV: one row per customer, recipient and category"
        ZIP = "zip", "ZIP: one notice per customer"
        SUMMARY = "summary", "CSV: summary per recipient and category"

    class NoticeFormat(models.TextChoices):
        PDF = "pdf", "PDF"
        HTML = "html", "HTML"
        TEXT = "txt", "Plain text"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (file deleted)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    year = models.PositiveSmallIntegerField()
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    notice_format = models.CharField(max_length=4, choices=NoticeFormat.choices, default=NoticeFormat.PDF)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    task_id = models.CharField(max_length=64, blank=True)
    file_name = models.CharField(
        max_length=100, blank=True, help_text="Random name under MEDIA_ROOT/exports."
    )
    row_count = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_label = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("run_export", "Can run and download §1798.83 exports")]

    def __str__(self) -> str:
        return f"Export {self.year} {self.format} ({str(self.public_id)[:8]})"
