"""Website consent: the devices that chose, and the evidence of each web choice (issue 18).

Imported at the end of consent/models.py so Django registers the models with the consent app.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class WebRule(models.TextChoices):
    """Why a web ledger event has the action it has (stored on WebChoice.rule)."""

    CHOICE = "choice", "The visitor's own choice in the banner or dialog"
    GPC = "gpc", "Opt-out preference signal (11 CCR §7025(b))"
    GPC_OVER_OPT_IN = (
        "gpc_over_opt_in",
        "Signal conflicted with an earlier opt-in; signal honoured (§7025(c)(3))",
    )
    GPC_REFUSED_OPT_IN = (
        "gpc_refused_opt_in",
        "Opt-in while the signal was on, without the conflict notice; signal honoured (§7025(c)(3))",
    )
    OPT_IN_AFTER_NOTICE = (
        "opt_in_after_notice",
        "Opt-in after being told it conflicts with the signal (§7025(c)(3))",
    )
    DO_NOT_SELL = "do_not_sell", "'Do Not Sell or Share My Personal Information' page (§1798.135)"
    LIMIT_SENSITIVE = "limit_sensitive", "'Limit the Use of My Sensitive Personal Information' page"
    PRIVACY_CENTER = "privacy_center", "Privacy center (verified link)"


class WebDevice(models.Model):
    """A browser or device that chose on the website, known only by the random id in its cookie.

    Its choices are ledger events of a pseudonymous subject (`subject`: no name, no address) so web
    choices get the same evidence, receipts and fold as every other consent. Once the person is known
    (a verified privacy-center link) `person` points at them and later choices are recorded for both.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject = models.OneToOneField(
        "inventory.DataSubject", on_delete=models.PROTECT, related_name="web_device"
    )
    person = models.ForeignKey(
        "inventory.DataSubject",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="web_devices",
    )
    region = models.CharField(
        max_length=8, blank=True, help_text="Region reported by the proxy, e.g. DE, US-CA."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Web device {str(self.public_id)[:8]}"


class WebChoice(models.Model):
    """Evidence of one ledger event recorded from the website: banner shown, GPC, region, rule applied.

    Append-only (database trigger), like the ledger row it explains. `rule` says why the event has
    the action it has, e.g. that a Global Privacy Control signal overrode an earlier opt-in
    (11 CCR §7025(c)(3)).
    """

    Rule = WebRule

    event = models.OneToOneField("consent.ConsentEvent", on_delete=models.PROTECT, related_name="web_choice")
    # No database constraint: erasing the person deletes their device rows, while this evidence (and the
    # pseudonymous ledger rows it explains) stays; the dangling id names no one.
    device = models.ForeignKey(
        WebDevice,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="choices",
    )
    banner_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the banner text shown.")
    gpc = models.BooleanField(
        default=False, help_text="A Global Privacy Control signal came with the choice."
    )
    region = models.CharField(max_length=8, blank=True)
    rule = models.CharField(max_length=24, choices=Rule.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rule__in=WebRule.values), name="consent_webchoice_rule")
        ]

    def __str__(self) -> str:
        return f"Web choice #{self.pk}"
