"""API URLs, mounted at /api/disclosures/ (privacyops.discovery)."""

from django.urls import path

from . import api

app_name = "disclosures-api"

urlpatterns = [
    path("batches/", api.BatchListCreateView.as_view(), name="batches"),
    path("batches/<uuid:id>/", api.BatchDetailView.as_view(), name="batch"),
    path("categories/", api.StatutoryCategoryListView.as_view(), name="categories"),
    path("requirement/", api.RequirementView.as_view(), name="requirement"),
]
