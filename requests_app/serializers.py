from rest_framework import serializers

from .models import CaseEvent, Channel, PrivacyRequest, Regime, RequesterKind, RequestType


class CaseIntakeSerializer(serializers.Serializer):
    """A request received by email, phone or mail, entered by an officer (or a mailbox integration)."""

    request_type = serializers.ChoiceField(choices=RequestType.choices)
    regime = serializers.ChoiceField(choices=Regime.choices)
    channel = serializers.ChoiceField(choices=[c for c in Channel.choices if c[0] != Channel.WEB])
    subject_email = serializers.EmailField()
    subject_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    subject_phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    subject_postal_address = serializers.CharField(required=False, allow_blank=True, default="")
    subject_country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    subject_region = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    requester_kind = serializers.ChoiceField(choices=RequesterKind.choices, default=RequesterKind.SUBJECT)
    requester_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    requester_email = serializers.EmailField(required=False, allow_blank=True, default="")
    requester_phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    authority_document = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False, help_text="When the letter/call/email arrived.")
    received_at_designated_address = serializers.BooleanField(default=True)
    signed_declaration = serializers.BooleanField(default=False)


class CaseSerializer(serializers.ModelSerializer):
    """A case as officers' tools see it (no requester contact details in list views)."""

    subject = serializers.UUIDField(source="subject.public_id", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None)
    request_type = serializers.CharField(source="type", read_only=True)
    # Plain strings: one enum per choice set in the OpenAPI schema (drf-spectacular W001).
    verification_level_achieved = serializers.CharField(read_only=True)
    possible_duplicate_of = serializers.UUIDField(
        source="possible_duplicate_of.reference", read_only=True, default=None
    )

    class Meta:
        model = PrivacyRequest
        fields = [
            "reference", "request_type", "regime", "channel", "status", "requester_kind", "subject", "assignee",
            "received_at", "acknowledge_due_on", "first_due_on", "due_on", "extended_at",
            "verification_level_required", "verification_level_achieved", "identity_verified_at",
            "possible_duplicate_of", "denial_basis", "completed_at", "closed_at", "stuck_reason",
        ]  # fmt: skip
        read_only_fields = fields


class CaseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseEvent
        fields = ["at", "kind", "from_status", "to_status", "actor_label", "summary", "details"]
        read_only_fields = fields
