"""API shapes for the consent endpoints (validation only; the services decide)."""

from rest_framework import serializers

from . import conf
from .models import Action, Channel, ConsentEvent, Purpose


class ConsentEventItemSerializer(serializers.Serializer):
    client_event_id = serializers.CharField(
        max_length=100, help_text="Your id for this event; repeating it never records twice."
    )
    subject = serializers.UUIDField(help_text="The data subject's public UUID.")
    purpose = serializers.SlugField(max_length=40)
    action = serializers.ChoiceField(choices=Action.choices)
    at = serializers.DateTimeField(
        help_text="When consent was given or withdrawn (ISO 8601, with time zone)."
    )
    channel = serializers.ChoiceField(choices=Channel.choices)
    collection_point = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    policy_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=10, required=False, default="en")
    evidence = serializers.DictField(
        required=False,
        allow_empty=True,
        help_text="form_id or banner_id, policy_version, ip, user_agent, note, reference. "
        "IP and user agent are minimised and encrypted.",
    )


class ConsentEventBulkSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, max_length=conf.bulk_max_items()
    )


class RecordedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    client_event_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "suppressed"])
    receipt_id = serializers.UUIDField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    results = RecordedItemSerializer(many=True)


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    client_event_id = serializers.CharField(allow_blank=True)
    errors = serializers.ListField(child=serializers.CharField())


class BulkRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ItemErrorSerializer(many=True)


class PurposeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Purpose
        fields = [
            "code", "name", "service", "description", "legal_basis", "required", "is_marketing",
            "consent_lifetime_days", "policy_reference",
        ]  # fmt: skip


class PurposeStatusSerializer(serializers.Serializer):
    purpose = serializers.CharField(source="purpose.code")
    name = serializers.CharField(source="purpose.name")
    status = serializers.ChoiceField(choices=["granted", "withdrawn", "expired", "none", "required"])
    may_process = serializers.BooleanField()
    at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    receipt_id = serializers.SerializerMethodField()

    def get_receipt_id(self, obj) -> str | None:
        return str(obj.event.public_id) if obj.event else None


class SubjectConsentSerializer(serializers.Serializer):
    subject = serializers.UUIDField()
    purposes = PurposeStatusSerializer(many=True)


class ConsentEventSerializer(serializers.ModelSerializer):
    receipt_id = serializers.UUIDField(source="public_id")
    purpose = serializers.CharField(source="purpose.code")
    policy_version = serializers.CharField(source="policy_version.version", allow_null=True, default=None)

    class Meta:
        model = ConsentEvent
        fields = [
            "receipt_id", "purpose", "action", "at", "recorded_at", "channel", "collection_point",
            "policy_version", "language", "suppressed",
        ]  # fmt: skip
