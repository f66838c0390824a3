"""Consent API for company systems (website, cookie banner, CRM): token or session authentication.

- POST events/          record a batch of events, all or nothing, idempotent by client_event_id
- GET  subjects/<uuid>/ the subject's current consent per purpose
- GET  subjects/<uuid>/events/ the subject's ledger
- GET  receipts/<uuid>/ a Kantara consent receipt (add ?download=1 for a file)
- GET  purposes/        the purposes a banner or form may ask for
"""

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_access import StaffSessionOrServiceToken
from core.api_errors import as_api_error
from inventory.models import DataSubject

from .models import ConsentEvent, Purpose
from .receipts import consent_receipt, receipt_filename
from .selectors import consent_history, consent_overview
from .serializers import (
    BulkRejectedSerializer,
    BulkResultSerializer,
    ConsentEventBulkSerializer,
    ConsentEventItemSerializer,
    ConsentEventSerializer,
    PurposeSerializer,
    SubjectConsentSerializer,
)
from .services import BulkRecordRejected, ConsentEventInput, consent_events_record_bulk


def has_perm(perm: str) -> type[BasePermission]:
    class _HasPerm(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(perm))

    _HasPerm.__name__ = f"HasPerm_{perm.replace('.', '_')}"
    return _HasPerm


def _flatten(errors) -> list[str]:
    """DRF error structures as readable lines ("field: message")."""
    lines: list[str] = []
    if isinstance(errors, dict):
        for name, value in errors.items():
            lines += [f"{name}: {line}" if name != "non_field_errors" else line for line in _flatten(value)]
    elif isinstance(errors, list):
        for value in errors:
            lines += _flatten(value)
    else:
        lines.append(str(errors))
    return lines


class ConsentEventBulkView(APIView):
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, has_perm("consent.record_consent")]

    def handle_exception(self, exc):
        # Malformed JSON or a bad envelope ("events" missing, empty, too long): the documented
        # BulkRejected shape, like a rejected item, not DRF's field-keyed one. A body over Django's
        # size or field-count limits is the same kind of error (core.api_errors).
        exc = as_api_error(exc)
        if isinstance(exc, exceptions.ValidationError | exceptions.ParseError):
            return Response(
                {"detail": "; ".join(_flatten(exc.detail)) + " Nothing was recorded.", "errors": []},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return super().handle_exception(exc)

    @extend_schema(
        request=ConsentEventBulkSerializer,
        responses={201: BulkResultSerializer, 200: BulkResultSerializer, 400: BulkRejectedSerializer},
        summary="Record consent events in bulk (all or nothing, idempotent by client_event_id)",
    )
    def post(self, request: Request) -> Response:
        envelope = ConsentEventBulkSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw_items = envelope.validated_data["events"]
        errors: dict[int, list[str]] = {}
        valid: dict[int, dict] = {}
        for index, raw in enumerate(raw_items):
            item = ConsentEventItemSerializer(data=raw)
            if item.is_valid():
                valid[index] = item.validated_data
            else:
                errors[index] = _flatten(item.errors)
        public_ids = {v["subject"] for v in valid.values()}
        subject_ids = dict(
            DataSubject.objects.filter(public_id__in=public_ids).values_list("public_id", "pk")
        )
        for index, data in valid.items():
            if data["subject"] not in subject_ids:
                errors.setdefault(index, []).append("subject: Unknown data subject.")
        order = sorted(i for i in valid if i not in errors)
        inputs = [
            ConsentEventInput(
                subject_id=subject_ids[valid[i]["subject"]],
                purpose=valid[i]["purpose"],
                action=valid[i]["action"],
                channel=valid[i]["channel"],
                at=valid[i]["at"],
                client_event_id=valid[i]["client_event_id"],
                collection_point=valid[i]["collection_point"],
                policy_version=valid[i]["policy_version"],
                language=valid[i]["language"],
                evidence=valid[i].get("evidence") or None,
            )
            for i in order
        ]
        source = f"api:{request.user.get_username()}"
        if errors:
            # Report every bad item, including those only the service can judge, then write nothing.
            try:
                consent_events_record_bulk(events=inputs, source=source, validate_only=True)
            except BulkRecordRejected as exc:
                for position, messages in exc.item_errors.items():
                    errors.setdefault(order[position], []).extend(messages)
            return self._rejected(raw_items, errors)
        try:
            result = consent_events_record_bulk(
                events=inputs, source=source, actor=request.user, notify_withdrawals=True
            )
        except BulkRecordRejected as exc:
            return self._rejected(raw_items, {order[i]: messages for i, messages in exc.item_errors.items()})
        body = {
            "created": result.created,
            "duplicates": result.duplicates,
            "suppressed": result.suppressed,
            "results": [
                {
                    "index": item.index,
                    "client_event_id": inputs[item.index].client_event_id,  # no errors: order == range
                    "status": item.status,
                    "receipt_id": item.receipt_id,
                }
                for item in result.items
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @staticmethod
    def _rejected(raw_items, errors) -> Response:
        return Response(
            {
                "detail": f"{len(errors)} of {len(raw_items)} events are not valid; nothing was recorded.",
                "errors": [
                    {
                        "index": index,
                        "client_event_id": str(
                            raw_items[index].get("client_event_id", "")
                            if isinstance(raw_items[index], dict)
                            else ""
                        )[:100],
                        "errors": messages,
                    }
                    for index, messages in sorted(errors.items())
                ],
            },
            status=status.HTTP_400_BAD_REQUEST,
        )


class SubjectConsentView(APIView):
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, has_perm("consent.view_consentstate")]

    @extend_schema(
        responses={200: SubjectConsentSerializer}, summary="Current consent of a subject per purpose"
    )
    def get(self, request: Request, public_id) -> Response:
        subject = get_object_or_404(DataSubject.objects.only("pk", "public_id"), public_id=public_id)
        data = {"subject": subject.public_id, "purposes": consent_overview(subject_id=subject.pk)}
        return Response(SubjectConsentSerializer(data).data)


class SubjectEventsView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, has_perm("consent.view_consentevent")]
    serializer_class = ConsentEventSerializer
    queryset = ConsentEvent.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ConsentEvent.objects.none()
        subject = get_object_or_404(DataSubject.objects.only("pk"), public_id=self.kwargs["public_id"])
        return consent_history(subject_id=subject.pk)


class ReceiptView(APIView):
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, has_perm("consent.view_consentevent")]

    @extend_schema(
        parameters=[
            OpenApiParameter("download", OpenApiTypes.BOOL, description="Send as a file attachment.")
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Consent receipt (Kantara Consent Receipt v1.1) of one event",
    )
    def get(self, request: Request, receipt_id) -> Response | HttpResponse:
        event = get_object_or_404(
            ConsentEvent.objects.select_related("subject", "purpose", "policy_version"), public_id=receipt_id
        )
        receipt = consent_receipt(event)
        if request.query_params.get("download") in ("1", "true", "yes"):
            response = HttpResponse(json.dumps(receipt, indent=2), content_type="application/json")
            response["Content-Disposition"] = f'attachment; filename="{receipt_filename(event)}"'
            return response
        return Response(receipt)


class PurposeListView(generics.ListAPIView):
    """Paginated like every list of the API (one page holds every purpose the company has)."""

    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken]
    serializer_class = PurposeSerializer
    queryset = Purpose.objects.filter(active=True).order_by("code")
