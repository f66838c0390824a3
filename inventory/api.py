"""Read-only REST API over the inventory: subjects (by public UUID), their records, data categories.

Staff only, and each read needs the model's view permission (DRF's DjangoModelPermissions lets anyone
authenticated read). Sealed fields are never decrypted unless asked (`?reveal=true`) by a user holding
`inventory.reveal_sensitive`, and each such reveal is audited.
"""

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response

from . import display
from .models import DataCategory, DataSubject
from .pagination import InventoryPagination
from .selectors import subject_ids_by_email
from .serializers import (
    DataCategorySerializer,
    DataSubjectSerializer,
    RecordsQuerySerializer,
    SubjectRecordsSerializer,
)

_VIEW = ["%(app_label)s.view_%(model_name)s"]


class StaffModelPermissions(DjangoModelPermissions):
    """Staff users with the model's permissions; reads need `view_<model>`."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": _VIEW, "HEAD": _VIEW, "OPTIONS": _VIEW}

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        return super().has_permission(request, view)


class DataSubjectFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(
        method="filter_email",
        help_text="Exact address, ignoring case and surrounding spaces; also finds further email contact points.",
    )
    country = django_filters.CharFilter(method="filter_upper", help_text="ISO 3166-1 alpha-2, e.g. US.")
    region = django_filters.CharFilter(method="filter_upper", help_text="ISO 3166-2 subdivision, e.g. CA.")
    kind = django_filters.ChoiceFilter(choices=DataSubject.Kind.choices)
    is_minor = django_filters.BooleanFilter()
    erased = django_filters.BooleanFilter(field_name="erased_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = DataSubject
        fields = ["email", "country", "region", "kind", "is_minor", "erased"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(pk__in=subject_ids_by_email(value))

    def filter_upper(self, queryset, name, value):
        return queryset.filter(**{name: value.strip().upper()})


class DataSubjectViewSet(viewsets.ReadOnlyModelViewSet):
    """Data subjects: individuals and juristic entities whose personal data the company holds."""

    queryset = DataSubject.objects.all()
    serializer_class = DataSubjectSerializer
    permission_classes = [StaffModelPermissions]
    pagination_class = InventoryPagination
    filterset_class = DataSubjectFilter
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    @extend_schema(
        parameters=[RecordsQuerySerializer],
        responses=SubjectRecordsSerializer,
        summary="Every registered record of the subject, grouped by data category",
    )
    @action(detail=True, methods=["get"])
    def records(self, request, public_id=None):
        """One query per registered model. Sealed values are null unless `reveal=true` (audited)."""
        subject = self.get_object()
        query = RecordsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        reveal = query.validated_data["reveal"]
        if reveal and not display.may_reveal(request.user):
            raise PermissionDenied("You may not see decrypted sensitive fields.")
        try:
            groups = display.subject_records(
                subject, user=request.user, reveal=reveal, channel="api", limit=query.validated_data["limit"]
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        payload = {
            "subject": subject.public_id,
            "revealed": reveal,
            "categories": [_category(group) for group in groups],
        }
        return Response(SubjectRecordsSerializer(payload).data)


def _category(group: display.CategoryRecords) -> dict:
    return {
        "code": group.code,
        "name": group.name,
        "sensitivity": group.sensitivity,
        "models": [
            {
                "model": held.label,
                "verbose_name": held.verbose_name,
                "truncated": held.truncated,
                "records": [_record(row) for row in held.rows],
            }
            for held in group.models
        ],
    }


def _record(row: display.Row) -> dict:
    fields, withheld = {}, {}
    for cell in row.cells:
        if cell.seal:
            fields[cell.name] = None
            withheld[cell.name] = cell.seal
        elif cell.masked:
            fields[cell.name] = None
            withheld[cell.name] = "one-way hash"
        else:
            fields[cell.name] = cell.value
    return {"id": row.public_ref, "fields": fields, "withheld": withheld}


class DataCategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The personal-data categories of the policy (§2) and the models holding each."""

    queryset = DataCategory.objects.all()
    serializer_class = DataCategorySerializer
    permission_classes = [StaffModelPermissions]
    pagination_class = InventoryPagination
    lookup_field = "code"
    filterset_fields = ["sensitivity"]
