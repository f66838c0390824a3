"""The privacy center's own record: the single-use sign-in links it sends by email."""

from django.db import models


class CenterLink(models.Model):
    """A privacy-center sign-in link sent to a subject's address: single use, short lived.

    The emailed link is a signed token carrying only `nonce`; this row makes it single-use (a guarded
    update of `used_at`) and lets a newer link leave older ones unused but harmless until they expire.
    """

    subject = models.ForeignKey("inventory.DataSubject", on_delete=models.PROTECT, related_name="+")
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["subject", "created_at"], name="privacycenter_link_subject_idx")]

    def __str__(self) -> str:
        return f"Privacy center link #{self.pk}"
