import uuid

from django.db import models
from django.db.models.functions import Lower, Trim

from .fields import EncryptedTextField


def normalize_email(value: str) -> str:
    """Lookups by email ignore case and surrounding white space (policy: one person, one address)."""
    return (value or "").strip().lower()


class Sensitivity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class DataCategory(models.Model):
    """A kind of personal data the policy says the company holds (policy §2); seeded by migration."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField()
    sensitivity = models.CharField(max_length=10, choices=Sensitivity.choices)
    policy_reference = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "data categories"

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    """Where personal data came from (policy §3): website, cookies, analytics, third-party lists, ..."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    policy_reference = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ThirdParty(models.Model):
    """A recipient of personal data (policy §5): service provider, affiliate, partner, authority, acquirer.

    Carries what a 1798.83 notice must print: legal name, postal address, and the nature of business
    with product examples when the name does not show it.
    """

    class Kind(models.TextChoices):
        SERVICE_PROVIDER = "service_provider", "Service provider"
        AFFILIATE = "affiliate", "Affiliate"
        MARKETING_PARTNER = "marketing_partner", "Marketing partner"
        AUTHORITY = "authority", "Public authority"
        ACQUIRER = "acquirer", "Acquirer (business transfer)"

    legal_name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    street_address = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    nature_of_business = models.CharField(max_length=200)
    product_examples = models.TextField(
        blank=True, help_text="Examples of products or services marketed, when the name does not show them."
    )
    same_brand_affiliate = models.BooleanField(
        default=False, help_text="Affiliate sharing the company's brand (Cal. Civ. Code §1798.83(f))."
    )
    privacy_contact_email = models.EmailField(blank=True, help_text="Where erasure/rectification notices go.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_name"]
        verbose_name_plural = "third parties"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(same_brand_affiliate=False) | models.Q(kind="affiliate"),
                name="inventory_thirdparty_same_brand_is_affiliate",
                violation_error_message="Only an affiliate can share the company's brand.",
            )
        ]

    def __str__(self) -> str:
        return self.legal_name

    @property
    def postal_address(self) -> str:
        line2 = " ".join(p for p in [self.city, self.region, self.postal_code] if p)
        return ", ".join(p for p in [self.street_address, line2, self.country] if p)


class System(models.Model):
    """Where personal data lives: this database, or an external system run by a service provider."""

    class Kind(models.TextChoices):
        INTERNAL = "internal", "This database"
        EXTERNAL = "external", "External system"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    owner = models.CharField(max_length=100, help_text="Team or role accountable for the system.")
    provider = models.ForeignKey(ThirdParty, null=True, blank=True, on_delete=models.PROTECT)
    location = models.CharField(max_length=100, blank=True, help_text="Hosting country/region.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataSubject(models.Model):
    """A person or a juristic entity the company holds data about (policy §1.2).

    Never deleted: erasure blanks, hashes or shreds its fields (see the registry) and stamps
    `erased_at`, so cases, ledgers and certificates that point at it stay coherent.
    """

    class Kind(models.TextChoices):
        PERSON = "person", "Individual"
        ENTITY = "entity", "Juristic entity"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    email_normalized = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    phone = models.CharField(max_length=40, blank=True)
    postal_address = models.TextField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, e.g. US, DE")
    region = models.CharField(max_length=3, blank=True, help_text="ISO 3166-2 subdivision, e.g. CA")
    date_of_birth = EncryptedTextField(help_text="Encrypted under the subject's data key (ISO date).")
    is_minor = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["country", "region"]),
            models.Index(Lower(Trim("name")), name="inventory_subject_name_lower"),
        ]
        permissions = [
            ("reveal_sensitive", "Can see decrypted sensitive fields"),
            ("erase_subject", "Can erase a data subject"),
        ]

    def __str__(self) -> str:
        # No name or email: this string ends up in admin logs and audit views.
        return f"Subject {str(self.public_id)[:8]}"

    def save(self, *args, **kwargs):
        self.email_normalized = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def jurisdiction(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country


class DataKey(models.Model):
    """A subject's data key, wrapped by a master key. Emptying `wrapped` is the crypto-shred."""

    subject = models.OneToOneField(
        DataSubject, primary_key=True, on_delete=models.PROTECT, related_name="data_key"
    )
    wrapped = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Data key of subject #{self.subject_id}"


class HeldRecord(models.Model):
    """Common shape of every record held about a subject: who, from where, in which system, when."""

    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    collected_at = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class ContactPoint(HeldRecord):
    """Personal contact information (policy §2): an email address, telephone number or postal address."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Telephone"
        POSTAL = "postal", "Postal address"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.TextField()
    value_normalized = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    is_primary = models.BooleanField(default=False)

    def save(self, *args, **kwargs):
        self.value_normalized = normalize_email(self.value)[:254] if self.kind == self.Kind.EMAIL else ""
        super().save(*args, **kwargs)


class UserAccount(HeldRecord):
    """SYSPRO user information (policy §2): login, password hash and a payment method reference."""

    username = models.CharField(max_length=150)
    password_hash = models.CharField(max_length=128, blank=True, help_text="Already one-way hashed.")
    payment_method_reference = EncryptedTextField(
        help_text="Processor token of the payment method, encrypted."
    )
    payment_brand = models.CharField(max_length=30, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)


class CompanyAffiliation(HeldRecord):
    """Company information (policy §2): company name, size, location, role, buying-intent signals."""

    company_name = models.CharField(max_length=200)
    company_size = models.CharField(max_length=30, blank=True)
    company_location = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=100, blank=True)
    buying_intent = models.CharField(max_length=20, blank=True)


class MarketingPreference(HeldRecord):
    """Marketing preferences (policy §2): channel, topics and frequency the subject chose.

    Whether marketing may be sent at all is the consent ledger's answer, not this record's.
    """

    channel = models.CharField(max_length=20)
    topics = models.JSONField(default=list, blank=True)
    frequency = models.CharField(max_length=20, blank=True)


class SurveyResponse(HeldRecord):
    """Survey and interactive content data (policy §2); free-text answers are encrypted."""

    survey = models.CharField(max_length=100)
    question = models.CharField(max_length=200, blank=True)
    answer = EncryptedTextField()


class ActivityEvent(HeldRecord):
    """Website and email activity (policy §2): page views, downloads, email opens/clicks, with ids."""

    class Kind(models.TextChoices):
        PAGE_VIEW = "page_view", "Page view"
        DOWNLOAD = "download", "Content download"
        EMAIL_OPEN = "email_open", "Email opened"
        EMAIL_CLICK = "email_click", "Email link clicked"
        WIDGET = "widget", "Widget interaction"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.CharField(max_length=300, blank=True, help_text="Page, content or email concerned.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    device_id = models.CharField(max_length=100, blank=True)
    cookie_id = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    geo_country = models.CharField(max_length=2, blank=True)
