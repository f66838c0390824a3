"""Public pages, mounted at /connectors/ (privacyops.discovery): the manual task page of system owners."""

from django.urls import path

from . import views

app_name = "connectors"

urlpatterns = [path("task/<str:token>/", views.manual_task, name="manual_task")]
