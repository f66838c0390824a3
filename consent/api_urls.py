"""Consent API, mounted at /api/consent/ (privacyops.urls)."""

from django.urls import path

from . import api

urlpatterns = [
    path("events/", api.ConsentEventBulkView.as_view(), name="consent-api-events"),
    path("subjects/<uuid:public_id>/", api.SubjectConsentView.as_view(), name="consent-api-subject"),
    path(
        "subjects/<uuid:public_id>/events/",
        api.SubjectEventsView.as_view(),
        name="consent-api-subject-events",
    ),
    path("receipts/<uuid:receipt_id>/", api.ReceiptView.as_view(), name="consent-api-receipt"),
    path("purposes/", api.PurposeListView.as_view(), name="consent-api-purposes"),
]
