"""Officers' REST API: create cases from email/phone/mail intake, list and read cases and timelines.

Staff only, with model permissions (view for reads, add for intake). Cases are addressed by their public
UUID reference, never by sequential id.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.throttling import ScopedRateThrottle

from . import selectors, services
from .models import PrivacyRequest
from .serializers import CaseEventSerializer, CaseIntakeSerializer, CaseSerializer


class OfficerPermissions(permissions.DjangoModelPermissions):
    """DjangoModelPermissions, with reads needing the view permission too."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"]}


class CanReadTimeline(permissions.BasePermission):
    """The timeline is the request log (11 CCR §7101): it needs its own view permission, as in the admin."""

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("requests_app.view_caseevent")


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAdminUser, OfficerPermissions]
    serializer_class = CaseSerializer
    lookup_field = "reference"
    filterset_fields = ["status", "type", "regime", "channel"]
    queryset = PrivacyRequest.objects.select_related("subject", "assignee", "possible_duplicate_of").order_by(
        "-received_at", "-id"
    )

    throttle_scope = "intake"

    def get_throttles(self):
        # Intake (creating cases) has its own rate, API_THROTTLE_INTAKE; reads keep the defaults.
        throttles = super().get_throttles()
        return [*throttles, ScopedRateThrottle()] if getattr(self, "action", None) == "create" else throttles

    @extend_schema(request=CaseIntakeSerializer, responses={201: CaseSerializer})
    def create(self, request, *args, **kwargs):
        intake = CaseIntakeSerializer(data=request.data)
        intake.is_valid(raise_exception=True)
        try:
            case = services.request_create(**intake.validated_data, actor=request.user)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        case = self.get_queryset().get(pk=case.pk)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CaseEventSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[permissions.IsAdminUser, OfficerPermissions, CanReadTimeline],
        filter_backends=[],
    )
    def events(self, request, reference=None):
        """The case's timeline, oldest first, a page at a time (long cases have hundreds of events)."""
        case = self.get_object()
        page = self.paginate_queryset(selectors.case_timeline(case))
        return self.get_paginated_response(CaseEventSerializer(page, many=True).data)
