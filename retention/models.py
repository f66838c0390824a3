import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import ActorStamped
from inventory.models import DataCategory, DataSubject, Source, System

from .expiry import Period
from .fields import IdListField


class Action(models.TextChoices):
    """What a schedule does to an expired record: one of the registry's erasure strategies."""

    DELETE = "delete", "Delete the record"
    ANONYMISE = "anonymise", "Anonymise (apply the registry's per-field strategies)"
    CRYPTO_SHRED = "crypto_shred", "Crypto-shred (drop the record's encrypted values)"


class ExceptionCode(models.TextChoices):
    """Why a record is kept after an erasure request: GDPR Art. 17(3)(a)-(e) (docs/regulations.md, GDPR)."""

    EXPRESSION = "art17_3_a", "Art. 17(3)(a): freedom of expression and information"
    LEGAL_OBLIGATION = "art17_3_b", "Art. 17(3)(b): legal obligation or public task"
    PUBLIC_HEALTH = "art17_3_c", "Art. 17(3)(c): public health"
    ARCHIVING = "art17_3_d", "Art. 17(3)(d): archiving, research or statistics"
    LEGAL_CLAIMS = "art17_3_e", "Art. 17(3)(e): establishment, exercise or defence of legal claims"


class RetentionSchedule(models.Model):
    """How long one category of personal data is kept, counted from which event, and what happens then.

    Scope: a data category, optionally narrowed to one registered model, system or source; when several
    active schedules match a record, the most specific one applies (see selectors.schedule_targets).
    Changes go through services (audited); the seeded rows are company-policy defaults to be reviewed.
    """

    category = models.ForeignKey(DataCategory, on_delete=models.PROTECT, related_name="+")
    model_label = models.CharField(
        max_length=100,
        blank=True,
        help_text="Limit to one kind of record (registry label, e.g. inventory.UserAccount); blank = all.",
    )
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period_months = models.PositiveIntegerField(default=0)
    period_days = models.PositiveIntegerField(default=0)
    anchor = models.CharField(
        max_length=40,
        default="collected",
        help_text="Event the period counts from: 'collected', or an event the record declares "
        "(e.g. 'closed', 'last_login').",
    )
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.DELETE)
    # Retention across systems: the schedule targets a collection of `system`'s datasets instead of our
    # own records; rows whose timestamp field is older than the period are erased by the connectors engine.
    external_collection = models.CharField(
        max_length=200,
        blank=True,
        help_text="Another system's collection (a table of its dataset) this schedule sweeps; blank = our records.",
    )
    external_timestamp_field = models.CharField(
        max_length=100,
        blank=True,
        help_text="The collection's field the period counts from (e.g. placed_at).",
    )
    legal_basis = models.TextField(help_text="Why this period: the purpose and any law requiring retention.")
    citation = models.CharField(max_length=200, help_text="Policy section and/or legal source.")
    is_default = models.BooleanField(
        default=False, help_text="A company-policy default seeded at installation; review and edit."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__name", "model_label", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_months__gt=0) | Q(period_days__gt=0),
                name="retention_schedule_period_positive",
                violation_error_message="A retention period needs some months or days.",
            ),
            models.CheckConstraint(
                condition=Q(external_collection="")
                | (Q(system__isnull=False) & ~Q(external_timestamp_field="")),
                name="retention_schedule_external_has_system_and_field",
                violation_error_message="An external collection needs its system and a timestamp field.",
            ),
        ]

    def __str__(self) -> str:
        if self.external_collection:
            where = (
                f"{self.system.code}:{self.external_collection}"
                if self.system_id
                else self.external_collection
            )
            return f"{where}: {self.period} after {self.external_timestamp_field}"
        scope = self.model_label.split(".")[-1] if self.model_label else self.category.name
        return f"{scope}: {self.period} after {self.anchor.replace('_', ' ')}"

    @property
    def is_external(self) -> bool:
        return bool(self.external_collection)

    @property
    def period(self) -> Period:
        return Period(months=self.period_months, days=self.period_days)

    @property
    def scope(self) -> dict[str, object]:
        """The scope fields that are set (used to rank specificity)."""
        found: dict[str, object] = {}
        if self.model_label:
            found["model_label"] = self.model_label.lower()
        if self.system_id:
            found["system_id"] = self.system_id
        if self.source_id:
            found["source_id"] = self.source_id
        return found


class LegalHold(models.Model):
    """Records that must not be erased, whatever schedules or requests say (GDPR Art. 17(3)).

    Scope: a subject (all their records, or one category of them) or a whole category. A hold placed for
    a DSAR case carries the case's public UUID in `case_reference`. Active until released or past `ends_on`.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject = models.ForeignKey(
        DataSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    category = models.ForeignKey(
        DataCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case_reference = models.CharField(max_length=64, blank=True, db_index=True)
    exception_code = models.CharField(
        max_length=20, choices=ExceptionCode.choices, default=ExceptionCode.LEGAL_CLAIMS
    )
    reason = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_label = models.CharField(max_length=150, help_text="Who answers for the hold (copied in).")
    placed_at = models.DateTimeField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last day the hold applies (inclusive).")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject__isnull=False) | Q(category__isnull=False),
                name="retention_hold_has_scope",
                violation_error_message="A legal hold needs a data subject, a data category, or both.",
            ),
        ]
        indexes = [models.Index(fields=["released_at", "ends_on"], name="retention_hold_active")]

    def __str__(self) -> str:
        what = []
        if self.subject_id:
            what.append(f"subject #{self.subject_id}")
        if self.category_id:
            what.append(f"category {self.category.code}")
        return f"Hold {str(self.public_id)[:8]} on {' / '.join(what)}"


class SweepRun(ActorStamped):
    """One retention sweep: the clock it used, its progress, and its per-category results."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        DONE_WITH_ERRORS = "done_with_errors", "Done with errors"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Periodic schedule"
        ADMIN = "admin", "Admin 'sweep now'"
        COMMAND = "command", "Command line"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    as_of = models.DateTimeField(help_text="The instant expiry is computed at; a resumed run keeps it.")
    schedule_ids = models.JSONField(
        null=True, blank=True, help_text="Limited to these schedules; empty = all."
    )
    include_minors = models.BooleanField(default=True)
    started_at = models.DateTimeField()
    planned_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    erased_count = models.BigIntegerField(default=0)
    kept_count = models.BigIntegerField(default=0)
    error_count = models.IntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Per category: erased, kept, errors.")
    certificate = models.OneToOneField(
        "ErasureCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One run at a time: a second trigger resumes the running one instead of racing it.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="retention_one_running_sweep"
            ),
        ]
        permissions = [
            ("run_sweep", "Can start a retention sweep"),
            ("replay_erasures", "Can replay the erasure journal"),
        ]

    def __str__(self) -> str:
        return f"Sweep {str(self.public_id)[:8]} ({self.get_status_display()})"


class SweepBatch(models.Model):
    """One unit of a sweep's fan-out: a primary-key range of one model under one schedule, or one minor.

    `cursor` advances in the same transaction as each window's erasure, so a worker killed mid-batch
    resumes where the last committed window ended and nothing is erased (or counted) twice.
    """

    class Kind(models.TextChoices):
        RECORDS = "records", "Expired records"
        MINOR = "minor", "Minor's records (policy §9)"
        EXTERNAL = "external", "Another system's collection"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(SweepRun, on_delete=models.CASCADE, related_name="batches")
    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECORDS)
    schedule = models.ForeignKey(
        RetentionSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_label = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=40)
    lo = models.BigIntegerField(default=0)
    hi = models.BigIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    window = models.BigIntegerField(default=0, help_text="Width of one transaction's id window.")
    subject_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    erased = models.BigIntegerField(default=0)
    kept = models.BigIntegerField(default=0)
    kept_open_request = models.BigIntegerField(
        default=0, help_text="Records kept because their subject has an open access/portability case."
    )
    kept_detail = models.JSONField(default=list, blank=True, help_text="Kept record ids with hold and code.")
    counts = models.JSONField(
        default=dict, blank=True, help_text="External batches: rows erased per collection of the system."
    )
    attempts = models.IntegerField(default=0)
    error_code = models.CharField(max_length=100, blank=True)
    duration_ms = models.IntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    certificate = models.ForeignKey(
        "ErasureCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="A minor's own erasure certificate.",
    )  # fmt: skip

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="retention_batch_unique_key")]
        indexes = [models.Index(fields=["run", "status"], name="retention_batch_run_status")]

    def __str__(self) -> str:
        if self.kind == self.Kind.MINOR:
            return f"minor subject #{self.subject_id}"
        if self.kind == self.Kind.EXTERNAL:
            return f"external {self.model_label}"
        return f"{self.model_label} [{self.lo}, {self.hi})"


class ErasureJournal(models.Model):
    """What was erased, by record id and method, so `replay_erasures` can re-apply it after a restore.

    One row per erasure statement: the ids it touched (`record_pks`), the model and the method. Append-only
    in the database. Holds ids only, never personal data.
    """

    class Method(models.TextChoices):
        DELETE = "delete", "Row deleted"
        ANONYMISE = "anonymise", "Fields anonymised (registry strategies)"
        CRYPTO_SHRED = "crypto_shred", "Encrypted values dropped"
        KEY_DESTROYED = "key_destroyed", "Subject data key destroyed (cryptographic erase)"
        SUBJECT_ERASED = "subject_erased", "Subject marked erased"

    at = models.DateTimeField()
    model_label = models.CharField(max_length=100)
    method = models.CharField(max_length=20, choices=Method.choices)
    record_pks = IdListField()
    record_count = models.IntegerField()
    subject_id = models.BigIntegerField(null=True, blank=True)
    # No database constraint or index: the sweep inserts these rows in the same statement as its
    # DELETE, and per-row foreign-key checks would cost more than the delete itself.
    sweep_run = models.ForeignKey(
        SweepRun, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
        related_name="+",
    )  # fmt: skip
    certificate_ref = models.UUIDField(null=True, blank=True, help_text="Public id of the certificate.")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "erasure journal"

    def __str__(self) -> str:
        return f"{self.get_method_display()}: {self.record_count} × {self.model_label}"


class ErasureCertificate(ActorStamped):
    """Evidence of one erasure: what, when, how (counts, ids, methods), what was kept and why.

    Holds no personal data (ids, codes, counts). Append-only in the database. Key destruction is recorded
    as a NIST SP 800-88 "Purge (cryptographic erase)"; row deletion and overwriting as "Clear".
    """

    class Kind(models.TextChoices):
        SUBJECT = "subject", "Erasure of a data subject"
        SWEEP = "sweep", "Retention sweep"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    issued_at = models.DateTimeField()
    subject = models.ForeignKey(
        DataSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="erasure_certificates"
    )
    sweep_run_id_ref = models.BigIntegerField(null=True, blank=True, help_text="Id of the sweep run.")
    reason = models.TextField()
    case_reference = models.CharField(max_length=64, blank=True, db_index=True)
    minor = models.BooleanField(default=False)
    erased_count = models.BigIntegerField(default=0)
    kept_count = models.BigIntegerField(default=0)
    key_destroyed = models.BooleanField(default=False)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"Certificate {str(self.public_id)[:8]} ({self.get_kind_display()})"
