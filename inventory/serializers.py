"""API representations of the inventory. Subjects are identified by their public UUID only."""

from rest_framework import serializers

from .models import DataCategory, DataSubject
from .registry import registry


class DataSubjectSerializer(serializers.ModelSerializer):
    jurisdiction = serializers.CharField(read_only=True, help_text="Country, or country-region (e.g. US-CA).")

    class Meta:
        model = DataSubject
        # No sequential id, and no sealed field: the date of birth is in the subject's records.
        fields = [
            "public_id", "kind", "name", "email", "phone", "postal_address", "company", "role", "country",
            "region", "jurisdiction", "is_minor", "created_at", "updated_at", "erased_at",
        ]  # fmt: skip
        read_only_fields = fields


class DataCategorySerializer(serializers.ModelSerializer):
    held_in = serializers.SerializerMethodField(help_text="Models (registry labels) holding this category.")

    class Meta:
        model = DataCategory
        fields = ["code", "name", "description", "sensitivity", "policy_reference", "held_in"]
        read_only_fields = fields

    def get_held_in(self, obj: DataCategory) -> list[str]:
        return [entry.label for entry in registry.for_category(obj.code)]


class RecordSerializer(serializers.Serializer):
    id = serializers.CharField(
        help_text="The record's id within its model; the subject's public UUID for the subject's own row."
    )
    fields = serializers.DictField(child=serializers.JSONField(), help_text="Field name to value.")
    withheld = serializers.DictField(
        child=serializers.ChoiceField(choices=["encrypted", "shredded", "undecryptable", "one-way hash"]),
        help_text="Fields whose value is null above, and why: sealed (reveal=true needs the permission), "
        "crypto-shredded, or a one-way hash that is never shown.",
    )


class ModelRecordsSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="Registry label, e.g. inventory.ContactPoint.")
    verbose_name = serializers.CharField()
    truncated = serializers.BooleanField(help_text="More records exist than `limit` returned.")
    records = RecordSerializer(many=True)


class CategoryRecordsSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    sensitivity = serializers.CharField()
    models = ModelRecordsSerializer(many=True)


class SubjectRecordsSerializer(serializers.Serializer):
    subject = serializers.UUIDField(help_text="The subject's public id.")
    revealed = serializers.BooleanField(help_text="Whether sealed fields were decrypted (audited).")
    categories = CategoryRecordsSerializer(many=True)


class RecordsQuerySerializer(serializers.Serializer):
    reveal = serializers.BooleanField(
        default=False, help_text="Decrypt sealed fields (needs inventory.reveal_sensitive; audited)."
    )
    limit = serializers.IntegerField(
        default=100, min_value=1, max_value=1000, help_text="At most this many records per model."
    )
