"""Abstract models shared by the apps (no concrete model lives here)."""

from django.conf import settings
from django.db import models

from .actors import LABEL_MAX_LENGTH


class ActorStamped(models.Model):
    """Who did it: an optional user link that survives the user's deletion, plus the label at the time.

    The link has no database constraint (accounts may be deleted; the evidence may not).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=LABEL_MAX_LENGTH, help_text="Username, job or system at the time."
    )

    class Meta:
        abstract = True
