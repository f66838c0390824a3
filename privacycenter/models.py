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


class DrpAgent(models.Model):
    """An authorized agent allowed to file requests through the Data Rights Protocol, registered by an officer.

    The officer records the agent's DRP id and its Ed25519 verify key (from the DRP service directory);
    the agent then obtains its bearer token through the pair-wise key setup, and only the token's hash
    is kept. Each request it files is still a case with an agent requester: an officer checks the
    consumer's signed permission (11 CCR §7063) as for any agent.
    """

    agent_id = models.CharField(max_length=100, unique=True, help_text="The agent's DRP 'agent-id'.")
    name = models.CharField(max_length=200, help_text="Shown on the cases it files.")
    contact_email = models.EmailField(help_text="Where case notices to the agent go (its technical contact).")
    verify_key = models.CharField(
        max_length=100, help_text="Ed25519 public key (base64) the agent signs its DRP messages with."
    )
    token_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    token_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "DRP authorized agent"
        constraints = [
            models.UniqueConstraint(
                fields=["token_sha256"],
                condition=~models.Q(token_sha256=""),
                name="privacycenter_drp_token_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class DrpRequest(models.Model):
    """A Data Rights Protocol request and the case it became; its status is read from the case."""

    request_id = models.UUIDField(unique=True, editable=False)
    agent = models.ForeignKey(DrpAgent, on_delete=models.PROTECT, related_name="requests")
    agent_request_id = models.CharField(max_length=100, blank=True)
    case = models.OneToOneField("requests_app.PrivacyRequest", on_delete=models.PROTECT, related_name="drp")
    exercise = models.CharField(max_length=30)
    status_callback = models.URLField(blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"DRP request {str(self.request_id)[:8]}"
