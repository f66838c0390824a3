"""Public pages, mounted at /requests/ (privacyops.discovery)."""

from django.urls import path

from . import views

app_name = "requests_app"

urlpatterns = [
    path("new/", views.intake, name="intake"),
    path("status/<str:token>/", views.status, name="status"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("verify/<str:token>/resend/", views.verify_resend, name="verify_resend"),
    path("download/<str:token>/", views.download, name="download"),
]
