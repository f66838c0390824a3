"""Connections to the company's other systems, their Fides datasets, and the work done there per case."""

import uuid

from django.db import models

from core.models import ActorStamped
from inventory.models import DataSubject, System


class Connection(models.Model):
    """How to reach one System: a SQLAlchemy URL, a declarative HTTP configuration, or a person (manual).

    `secret` holds the credentials (the SQL URL with its password, or the HTTP auth values) sealed
    under the master keys; nothing reads it back to a screen.
    """

    class Kind(models.TextChoices):
        SQL = "sql", "SQL database"
        HTTP = "http", "HTTP API"
        MANUAL = "manual", "Manual (system owner)"

    system = models.OneToOneField(System, on_delete=models.CASCADE, related_name="connection")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    secret = models.TextField(blank=True, editable=False, help_text="Sealed credentials; write-only.")
    config = models.TextField(
        blank=True, help_text="HTTP connector YAML (no secrets: they go in the credentials)."
    )
    owner_email = models.EmailField(blank=True, help_text="Manual systems: who receives the task.")
    rate_limit_per_second = models.FloatField(default=0, help_text="0 = no limit.")
    row_cap = models.PositiveIntegerField(default=10_000, help_text="Rows per collection before 'truncated'.")
    enabled = models.BooleanField(default=True)
    secret_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_result = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["system__name"]

    def __str__(self) -> str:
        return f"{self.system} ({self.get_kind_display()})"


class Dataset(models.Model):
    """A Fides dataset file describing one system's collections, kept as imported (exported unchanged).

    `erase` maps "collection" -> "delete" or "collection.field" -> "null" | "hash" (our addition beside
    the Fides file); `category_map` maps Fides categories to our DataCategory codes.
    """

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="datasets")
    fides_key = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    text = models.TextField(help_text="The Fides YAML exactly as imported.")
    erase = models.JSONField(default=dict, blank=True)
    category_map = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["system__name", "fides_key"]

    def __str__(self) -> str:
        return self.fides_key


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    WAIVED = "waived", "Waived"


SETTLED = (RunStatus.DONE, RunStatus.WAIVED)


class SystemRun(models.Model):
    """One piece of work in one system for one case (access, erasure or opt-out): its status and result.

    `case_id` is the requests_app case's id (no foreign key: connectors sits below requests_app).
    Identities and access results are personal data, sealed under the master keys; identities are
    blanked once the run is settled.
    """

    class Action(models.TextChoices):
        ACCESS = "access", "Access"
        ERASURE = "erasure", "Erasure"
        OPT_OUT = "opt_out", "Opt-out"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    subject = models.ForeignKey(
        DataSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="runs")
    action = models.CharField(max_length=10, choices=Action.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    identities = models.TextField(blank=True, editable=False, help_text="Sealed {identity: [values]}.")
    result = models.TextField(blank=True, editable=False, help_text="Sealed access rows by collection.")
    counts = models.JSONField(default=dict, blank=True, help_text="Rows per collection (no personal data).")
    truncated = models.JSONField(default=list, blank=True)
    error = models.CharField(
        max_length=300, blank=True, help_text="Error class and message; no personal data."
    )
    attempts = models.PositiveIntegerField(default=0)
    waived_reason = models.TextField(blank=True)
    # Manual systems: the owner's own due date (ahead of the case's), reminders, escalation, upload.
    due_on = models.DateField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    upload_name = models.CharField(max_length=200, blank=True)
    upload = models.TextField(blank=True, editable=False, help_text="Sealed export file from the owner.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case_id", "system__name"]
        permissions = [("operate_systemrun", "Retry or waive a system's run for a case")]
        constraints = [
            models.UniqueConstraint(
                fields=["case_id", "system", "action"], name="connectors_one_run_per_case_system"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="waived") | ~models.Q(waived_reason=""),
                name="connectors_waiver_has_reason",
                violation_error_message="A waiver needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} in {self.system_id} for case #{self.case_id}"

    @property
    def settled(self) -> bool:
        return self.status in SETTLED


class ErasureJournal(models.Model):
    """Append-only: which rows of which external collection were erased, how, by primary key.

    Written (committed) before the external change, so a killed worker re-applies the same keys
    (every strategy is idempotent) and `replay_system_erasures` re-applies them after a restore.
    """

    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(
        SystemRun, null=True, blank=True, on_delete=models.PROTECT, related_name="journal"
    )
    sweep_reference = models.CharField(
        max_length=100, blank=True, help_text="Retention schedule code, for sweeps."
    )
    dataset = models.CharField(max_length=200)
    collection = models.CharField(max_length=200)
    strategy = models.JSONField(help_text='"delete" or {field: "null" | "hash"}.')
    keys = models.JSONField(help_text="Primary keys of the erased rows (column -> value lists).")
    row_count = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["system", "id"])]

    def __str__(self) -> str:
        return f"{self.collection}: {self.row_count} rows"


class RunEvent(ActorStamped):
    """Append-only history of a run: started, failed (error class), retried, waived (reason), done."""

    run = models.ForeignKey(SystemRun, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class DataMapSnapshot(models.Model):
    """A generated data map / record of processing (GDPR Art. 30), kept to show what changed since."""

    generated_at = models.DateTimeField(auto_now_add=True, db_index=True)
    rows = models.JSONField(help_text="One row per (system, category): no personal data.")
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["-generated_at", "-id"]

    def __str__(self) -> str:
        return f"Data map of {self.generated_at:%Y-%m-%d %H:%M}"
