from django.db import models

from core.models import ActorStamped


class AuditEvent(ActorStamped):
    """One thing someone (or a job) did to personal data, chained by hash so tampering shows.

    Append-only in the database (trigger). Holds ids and codes only, never personal data, so it can
    outlive the erasure of the subject it mentions. Actor names are copied in so a row stays readable
    after the user account is gone.
    """

    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id}"
