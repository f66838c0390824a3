"""Public URLs, mounted at /disclosures/ (privacyops.discovery)."""

from django.urls import path

from . import views

app_name = "disclosures"

urlpatterns = [
    path("notices/<str:token>/<str:fmt>/", views.notice, name="notice"),
]
