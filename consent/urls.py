"""Public consent pages, mounted at /consent/ (privacyops.urls)."""

from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
