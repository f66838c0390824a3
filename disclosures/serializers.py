"""API input and output shapes for logging disclosures from other systems."""

from rest_framework import serializers

from inventory.models import ThirdParty

from .models import DisclosureBatch, Purpose
from .statutory import STATUTORY_CATEGORIES, codes_of

MAX_BATCH_MEMBERS = 200_000  # one list share of 100,000 customers fits with room to spare

_STATUTORY_CHOICES = [(c.code, c.label) for c in STATUTORY_CATEGORIES]


class BatchCreateSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=100,
        help_text="Your system's id for this share. Re-sending it is safe: the batch is logged once.",
    )
    third_party = serializers.PrimaryKeyRelatedField(
        queryset=ThirdParty.objects.all(), help_text="Recipient id (inventory third party)."
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    disclosed_at = serializers.DateTimeField(help_text="When the data was (or is being) shared.")
    agreement_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    statutory_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=_STATUTORY_CHOICES),
        required=False,
        default=list,
        help_text="§1798.83(e)(6)(A) categories disclosed, by code (see /categories/).",
    )
    data_categories = serializers.DictField(
        child=serializers.ListField(child=serializers.SlugField(), allow_empty=True),
        required=False,
        default=dict,
        help_text='Inventory data categories and fields disclosed, e.g. {"contact": ["email", "name"]}; '
        "an empty list means the whole category. Mapped to statutory categories by the admin-edited mapping.",
    )
    subjects = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_BATCH_MEMBERS,
        help_text="Public ids of the data subjects whose data was shared.",
    )
    exclude_opted_out = serializers.BooleanField(
        default=False,
        help_text="When the §1798.83(c)(2) opt-out route is on: log the batch without subjects who opted out "
        "(they are returned, and must not be sent) instead of refusing it.",
    )

    def validate(self, attrs):
        if not attrs["statutory_categories"] and not attrs["data_categories"]:
            raise serializers.ValidationError("Give statutory_categories and/or data_categories.")
        return attrs


class BatchSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    third_party = serializers.PrimaryKeyRelatedField(read_only=True)
    statutory_categories = serializers.SerializerMethodField()
    disclosed_at = serializers.DateTimeField(source="at", read_only=True)

    class Meta:
        model = DisclosureBatch
        fields = [
            "id",
            "external_id",
            "third_party",
            "purpose",
            "statutory_categories",
            "data_categories",
            "disclosed_at",
            "agreement_reference",
            "member_count",
            "excluded_count",
            "source",
            "recorded_at",
        ]
        read_only_fields = fields

    def get_statutory_categories(self, obj) -> list[str]:
        return codes_of(obj.categories)


class BatchCreatedSerializer(BatchSerializer):
    excluded_subjects = serializers.ListField(
        child=serializers.UUIDField(),
        read_only=True,
        help_text="Opted-out subjects left out (do not send them).",
    )

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "excluded_subjects"]
        read_only_fields = fields


class StatutoryCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    citation = serializers.CharField()
    same_brand_reportable = serializers.BooleanField()
    mapped_from = serializers.ListField(child=serializers.CharField(), help_text="data_category.field pairs")


class RequirementSerializer(serializers.Serializer):
    required = serializers.BooleanField()
    employee_count = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    opt_out_route_enabled = serializers.BooleanField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.ListField(child=serializers.CharField())
    code = serializers.CharField()
    opted_out_subjects = serializers.ListField(child=serializers.UUIDField(), required=False)
