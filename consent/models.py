import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import ActorStamped
from inventory.fields import EncryptedTextField


class LegalBasis(models.TextChoices):
    """GDPR Art. 6(1)(a)-(f)."""

    CONSENT = "consent", "Consent (GDPR Art. 6(1)(a))"
    CONTRACT = "contract", "Contract (Art. 6(1)(b))"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
    VITAL_INTERESTS = "vital_interests", "Vital interests (Art. 6(1)(d))"
    PUBLIC_TASK = "public_task", "Public task (Art. 6(1)(e))"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art. 6(1)(f))"


class Action(models.TextChoices):
    GRANT = "grant", "Granted"
    WITHDRAW = "withdraw", "Withdrawn"


class Channel(models.TextChoices):
    """How consent was given or withdrawn (the receipt's collectionMethod)."""

    WEB_FORM = "web_form", "Web form"
    COOKIE_BANNER = "cookie_banner", "Cookie banner"
    EMAIL_LINK = "email_link", "Email unsubscribe link"
    EMAIL = "email", "Email to the company (policy §7)"
    PHONE = "phone", "Telephone"
    IMPORT = "import", "Imported list"
    API = "api", "API (company system)"


# Words other systems use for a channel, mapped to the ledger's values (the ledger stores only these).
CHANNEL_ALIASES = {
    "web": Channel.WEB_FORM,
    "website": Channel.WEB_FORM,
    "form": Channel.WEB_FORM,
    "banner": Channel.COOKIE_BANNER,
    "cookies": Channel.COOKIE_BANNER,
    "unsubscribe": Channel.EMAIL_LINK,
    "link": Channel.EMAIL_LINK,
    "mail": Channel.EMAIL,
    "telephone": Channel.PHONE,
    "call": Channel.PHONE,
    "system": Channel.API,
}


class Purpose(models.Model):
    """Why personal data is processed (policy §4): the unit consent is given or withdrawn for.

    Seeded by migration with the codes other apps use; `required` purposes (transactional messages)
    rest on the contract, not on consent, and can't be withdrawn.
    """

    code = models.SlugField(
        max_length=40, unique=True, help_text="Stable code other systems use; never renamed."
    )
    name = models.CharField(max_length=100)
    service = models.CharField(max_length=100, help_text="Service named on consent receipts.")
    description = models.TextField()
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    required = models.BooleanField(
        default=False, help_text="Needed to provide the Services: not based on consent, not withdrawable."
    )
    is_marketing = models.BooleanField(
        default=False, help_text="Withdrawn by 'unsubscribe from all marketing' (GDPR Art. 21(3))."
    )
    confirm_withdrawal = models.BooleanField(
        default=True, help_text="Send the opt-out confirmation notice when the subject withdraws."
    )
    consent_lifetime_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Consent expires this many days after it was given (empty: until withdrawn). "
        "Expired consent counts as withdrawn until the subject consents again.",
    )
    receipt_purpose_category = models.CharField(
        max_length=60, blank=True, help_text="Kantara consent receipt purpose category."
    )
    third_party_disclosure = models.BooleanField(default=False)
    web_key = models.SlugField(
        max_length=20,
        blank=True,
        help_text="Short name the website's consent.js uses (e.g. analytics, advertising); empty: not a "
        "website purpose. privacyops.consent.allows(web_key) tells tags whether they may load.",
    )
    sale_or_sharing = models.BooleanField(
        default=False,
        help_text="Selling or sharing personal information (CCPA §1798.120, §1798.140(ah)): a Global Privacy "
        "Control signal and the 'Do Not Sell or Share' page withdraw it.",
    )
    sensitive_use = models.BooleanField(
        default=False,
        help_text="Uses sensitive personal information beyond what §1798.121(a) allows: the 'Limit the Use "
        "of My Sensitive Personal Information' page withdraws it.",
    )
    data_categories = models.ManyToManyField("inventory.DataCategory", blank=True, related_name="+")
    policy_reference = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Consent must be freely given (GDPR Art. 7(4)): a required purpose can't rest on consent.
            models.CheckConstraint(
                condition=~Q(required=True, legal_basis=LegalBasis.CONSENT),
                name="consent_purpose_required_not_consent",
            ),
            models.CheckConstraint(
                condition=Q(required=False) | Q(consent_lifetime_days__isnull=True),
                name="consent_purpose_required_never_expires",
            ),
            models.UniqueConstraint(
                fields=["web_key"], condition=~Q(web_key=""), name="consent_purpose_web_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """One published version of the privacy policy (policy §11), identified by the hash of its text.

    Consent events point at the version shown when consent was given. Once published the row is
    frozen; publishing may notify affected subjects through the outbox, in resumable batches.
    """

    class Audience(models.TextChoices):
        NONE = "", "Nobody"
        CONSENTING = "consenting", "Subjects with a current consent"
        ALL = "all", "Every subject with an email address"

    version = models.CharField(max_length=40, unique=True, help_text="Label, e.g. 2026-01.")
    effective_on = models.DateField()
    url = models.URLField(blank=True, help_text="Where this version is published.")
    text = models.TextField()
    sha256 = models.CharField(max_length=64, unique=True, editable=False)
    summary = models.TextField(blank=True, help_text="What changed; quoted in the 'policy changed' notice.")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by_label = models.CharField(max_length=150, blank=True, editable=False)
    notify_audience = models.CharField(
        max_length=20, choices=Audience.choices, blank=True, default="", editable=False
    )
    notify_cursor = models.BigIntegerField(
        default=0, editable=False, help_text="Last subject id notified (batches resume after it)."
    )
    notified_count = models.PositiveIntegerField(default=0, editable=False)
    notify_completed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-effective_on", "-id"]
        permissions = [("publish_policyversion", "Can publish a policy version and notify subjects")]

    def __str__(self) -> str:
        return f"Policy {self.version}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ConsentImport(ActorStamped):
    """One CSV import of historic opt-in/opt-out lists: the evidence of where imported events came from."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    rows_total = models.PositiveIntegerField(default=0)
    events_created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    skipped_suppressed = models.PositiveIntegerField(default=0)
    skipped_opted_out = models.PositiveIntegerField(default=0)
    subjects_created = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {str(self.public_id)[:8]} ({self.created_at:%Y-%m-%d})"


class ConsentEvent(ActorStamped):
    """The consent ledger: one grant or withdrawal, with its evidence (GDPR Art. 7(1)).

    Append-only in the database (trigger). IP address, user agent and other evidence are minimised
    and sealed under the subject's data key in `evidence`; erasure destroys the key, so the proof
    that consent existed (who, what, when, how, which policy) stays while the evidence becomes
    unreadable. `public_id` is the consent receipt id.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject = models.ForeignKey(
        "inventory.DataSubject", on_delete=models.PROTECT, related_name="consent_events", db_index=False
    )
    # No single-column FK indexes: lookups go through (subject, purpose, at); purposes, policy versions
    # and imports are never deleted, so nothing needs to find their events fast (fewer indexes to write).
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="events", db_index=False)
    action = models.CharField(max_length=10, choices=Action.choices)
    at = models.DateTimeField(help_text="When the subject gave or withdrew consent.")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    source = models.CharField(
        max_length=100,
        blank=True,
        help_text="System that sent the event; client event ids are unique per source.",
    )
    client_event_id = models.CharField(max_length=100, blank=True)
    collection_point = models.CharField(max_length=100, blank=True, help_text="Form or banner id.")
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    language = models.CharField(max_length=10, default="en")
    evidence = EncryptedTextField(help_text="Minimised evidence (IP network, user agent, note), sealed.")
    suppressed = models.BooleanField(
        default=False, help_text="A grant received for a suppressed address, recorded as withdrawn."
    )
    import_batch = models.ForeignKey(
        ConsentImport, null=True, blank=True, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    # No index: the ledger is written in bulk and read by subject, never by actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "client_event_id"],
                condition=~Q(client_event_id=""),
                name="consent_event_client_id_unique_per_source",
            ),
            models.CheckConstraint(condition=Q(action__in=Action.values), name="consent_event_action_valid"),
            models.CheckConstraint(
                condition=Q(suppressed=False) | Q(action=Action.WITHDRAW),
                name="consent_event_suppressed_is_withdrawal",
            ),
        ]
        indexes = [
            models.Index(fields=["subject", "purpose", "at"], name="consent_event_subject_idx"),
            models.Index(fields=["at"], name="consent_event_at_idx"),
        ]
        permissions = [
            ("record_consent", "Can record consent events (API, officer entry)"),
            ("import_consent", "Can import historic consent lists"),
        ]

    def __str__(self) -> str:
        return f"Consent {self.get_action_display().lower()} #{self.pk}"


class ConsentState(models.Model):
    """The current consent per (subject, purpose): the fold of the ledger, kept in the same transaction.

    The latest `at` wins, ties broken by the event id, so late and out-of-order events fold
    correctly; `at` is the event's rank: a grant's time, a withdrawal's receipt (clamped to receipt
    either way), so an opt-out overrides every grant received before it (issue 14). "May we email this person?" is one lookup on the (subject, purpose) unique index.
    A projection of the ledger, written only by the fold next to the ledger rows (whose foreign keys
    the database enforces), so its own references carry no database constraint: that would check
    every state row a second time at commit, for nothing.
    """

    subject = models.ForeignKey(
        "inventory.DataSubject",
        on_delete=models.PROTECT,
        related_name="consent_states",
        db_index=False,
        db_constraint=False,
    )
    purpose = models.ForeignKey(
        Purpose,
        on_delete=models.PROTECT,
        related_name="states",
        db_index=False,  # consent_state_expiry_idx starts with purpose; one index less to keep per upsert
        db_constraint=False,
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    at = models.DateTimeField()
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["subject_id", "purpose_id"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "purpose"], name="consent_state_subject_purpose"),
            models.CheckConstraint(condition=Q(action__in=Action.values), name="consent_state_action_valid"),
        ]
        indexes = [models.Index(fields=["purpose", "action", "expires_at"], name="consent_state_expiry_idx")]

    def __str__(self) -> str:
        return f"Consent state #{self.pk} of subject #{self.subject_id}"

    def is_current(self, at=None) -> bool:
        at = at or timezone.now()
        return self.action == Action.GRANT and (self.expires_at is None or self.expires_at > at)

    @property
    def status(self) -> str:
        if self.action == Action.WITHDRAW:
            return "withdrawn"
        return "granted" if self.is_current() else "expired"


class SuppressedAddress(models.Model):
    """An email address that must never be marketed to again, kept only as a keyed hash (HMAC).

    Survives the subject's erasure (CAN-SPAM §7704(a)(4), GDPR Art. 21(3)): a re-imported list can't
    re-subscribe the address. Without settings.HASH_KEY the hash reveals nothing.
    """

    class Reason(models.TextChoices):
        ERASED_AFTER_OPT_OUT = "erased_after_opt_out", "Subject opted out, then was erased"
        ERASED = "erased", "Subject erased: never re-subscribed by a list, form or API"
        MANUAL = "manual", "Added by a privacy officer"

    email_hmac = models.CharField(max_length=64)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "suppressed addresses"
        constraints = [
            models.UniqueConstraint(fields=["email_hmac", "purpose"], name="consent_suppressed_unique")
        ]
        permissions = [("lift_suppression", "Can lift the suppression of an address")]

    def __str__(self) -> str:
        return f"Suppressed {self.email_hmac[:12]}…"


class ReconsentRequest(models.Model):
    """A subject whose consent expired and who should be asked again; nothing is marketed meanwhile.

    Opened by the daily expiry sweep (one per expiry, so the sweep is idempotent); resolved when a
    new grant arrives, or dismissed by an officer.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Consent given again"
        DISMISSED = "dismissed", "Dismissed"

    subject = models.ForeignKey(
        "inventory.DataSubject", on_delete=models.PROTECT, related_name="reconsent_requests", db_index=False
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    expired_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-expired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "purpose", "expired_at"], name="consent_reconsent_once_per_expiry"
            )
        ]
        indexes = [models.Index(fields=["status", "purpose"], name="consent_reconsent_status_idx")]

    def __str__(self) -> str:
        return f"Re-consent request #{self.pk} of subject #{self.subject_id}"


# The website's devices and the evidence of web choices (issue 18) live in their own module.
from .web_models import WebChoice, WebDevice  # noqa: E402, F401
