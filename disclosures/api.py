"""REST API for other systems: log disclosure batches (token auth), read them, read the categories."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_access import ServiceTokenAuthentication, StaffSessionOrServiceToken

from . import selectors, services
from .models import CategoryMapping
from .serializers import (
    BatchCreatedSerializer,
    BatchCreateSerializer,
    BatchSerializer,
    ErrorSerializer,
    RequirementSerializer,
    StatutoryCategorySerializer,
)
from .statutory import STATUTORY_CATEGORIES


class CanLogDisclosures(BasePermission):
    """Reading needs view permission on batches; logging needs `disclosures.log_disclosures`."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return request.user.has_perm("disclosures.view_disclosurebatch")
        return request.user.has_perm("disclosures.log_disclosures")


# Token first: an unauthenticated caller gets 401 with `WWW-Authenticate: Token`, not a bare 403.
AUTHENTICATION = [ServiceTokenAuthentication, SessionAuthentication]


def _lines(detail) -> list[str]:
    """DRF error details (nested dicts/lists) as readable lines: "field: message"."""
    if isinstance(detail, dict):
        return [f"{name}: {line}" for name, value in detail.items() for line in _lines(value)]
    if isinstance(detail, list):
        return [line for value in detail for line in _lines(value)]
    return [str(detail)]


def _error(exc: DjangoValidationError, http_status: int = status.HTTP_400_BAD_REQUEST, **extra) -> Response:
    code = getattr(exc, "code", None) or "invalid"
    return Response({"detail": exc.messages, "code": code, **extra}, status=http_status)


@extend_schema_view(
    get=extend_schema(summary="List logged disclosure batches", tags=["disclosures"]),
)
class BatchListCreateView(generics.ListCreateAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, CanLogDisclosures]
    serializer_class = BatchSerializer
    filterset_fields = ["purpose", "third_party", "external_id"]

    def get_queryset(self):
        return selectors.batches()

    def handle_exception(self, exc):
        # Malformed JSON or a payload the serializer rejects: the documented error shape (ErrorSerializer),
        # like every other refusal of this endpoint, not DRF's field-keyed one.
        if isinstance(exc, exceptions.ValidationError | exceptions.ParseError):
            code = "parse_error" if isinstance(exc, exceptions.ParseError) else "invalid"
            return Response({"detail": _lines(exc.detail), "code": code}, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)

    @extend_schema(
        summary="Log a disclosure batch",
        description=(
            "Records one share of personal data with one recipient: every listed subject, the categories, "
            "the purpose, when, and under which agreement. The whole batch is written in one bulk operation "
            "or not at all. Idempotent by `external_id`: re-sending the same payload returns the batch already "
            "logged (200); a different payload under the same id is refused (409). When the company runs "
            "the Cal. Civ. Code §1798.83(c)(2) opt-out route, a direct-marketing batch naming subjects who "
            "opted out of sharing with marketing partners is refused (400, code `opted_out`, with their ids) "
            "unless `exclude_opted_out` is true."
        ),
        request=BatchCreateSerializer,
        responses={
            201: BatchCreatedSerializer,
            200: OpenApiResponse(
                BatchCreatedSerializer, description="Already logged under this external id."
            ),
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="External id reused for a different batch."),
        },
        tags=["disclosures"],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        incoming = BatchCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        public_ids = sorted({str(u) for u in data["subjects"]})
        fingerprint = services.payload_fingerprint(
            {
                "external_id": data["external_id"],
                "third_party": data["third_party"].pk,
                "purpose": data["purpose"],
                "disclosed_at": data["disclosed_at"].isoformat(),
                "agreement_reference": data["agreement_reference"],
                "statutory_categories": sorted(data["statutory_categories"]),
                "data_categories": {k: sorted(v) for k, v in data["data_categories"].items()},
                "subjects": public_ids,
                "exclude_opted_out": data["exclude_opted_out"],
            }
        )
        ids = selectors.subject_ids_for_public_ids(public_ids)
        unknown = [p for p in public_ids if p not in ids]
        if unknown:
            return Response(
                {
                    "detail": [f"{len(unknown)} subject id(s) are unknown."],
                    "code": "unknown_subjects",
                    "unknown_subjects": unknown[:100],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            result = services.disclosure_batch_record(
                third_party_id=data["third_party"].pk,
                purpose=data["purpose"],
                subject_ids=ids.values(),
                statutory_categories=data["statutory_categories"],
                data_categories=data["data_categories"],
                disclosed_at=data["disclosed_at"],
                agreement_reference=data["agreement_reference"],
                external_id=data["external_id"],
                payload_sha256=fingerprint,
                source="api",
                exclude_opted_out=data["exclude_opted_out"],
                actor=request.user,
            )
        except services.BatchConflict as exc:
            return _error(exc, status.HTTP_409_CONFLICT)
        except services.OptedOutSubjects as exc:
            back = {v: k for k, v in ids.items()}
            return _error(exc, opted_out_subjects=[back[i] for i in exc.subject_ids])
        except DjangoValidationError as exc:
            return _error(exc)
        back = {v: k for k, v in ids.items()} if result.excluded_subject_ids else {}
        body = dict(BatchSerializer(result.batch).data)
        body["excluded_subjects"] = [back[i] for i in result.excluded_subject_ids]
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema_view(get=extend_schema(summary="One logged disclosure batch", tags=["disclosures"]))
class BatchDetailView(generics.RetrieveAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, CanLogDisclosures]
    serializer_class = BatchSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return selectors.batches()


@extend_schema_view(
    get=extend_schema(
        summary="The 27 statutory categories of Cal. Civ. Code §1798.83(e)(6)(A) and the mapping to them",
        tags=["disclosures"],
    )
)
class StatutoryCategoryListView(generics.ListAPIView):
    """Paginated like every list of the API (one page holds all 27)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, CanLogDisclosures]
    serializer_class = StatutoryCategorySerializer
    filter_backends: list = []

    def get_queryset(self) -> list[dict]:
        mapped: dict[str, list[str]] = {}
        for code, field, statutory in CategoryMapping.objects.values_list(
            "data_category__code", "field", "statutory_category"
        ):
            if statutory:
                mapped.setdefault(statutory, []).append(f"{code}.{field}")
        return [
            {
                "code": c.code,
                "label": c.label,
                "citation": c.citation,
                "same_brand_reportable": c.same_brand_reportable,
                "mapped_from": sorted(mapped.get(c.code, [])),
            }
            for c in STATUTORY_CATEGORIES
        ]


class RequirementView(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, StaffSessionOrServiceToken, CanLogDisclosures]

    @extend_schema(
        summary="Whether §1798.83 notices are required (employee count) and whether the opt-out route is on",
        responses=RequirementSerializer,
        tags=["disclosures"],
    )
    def get(self, request: Request) -> Response:
        need = selectors.requirement()
        return Response(RequirementSerializer(need.__dict__).data)
