"""The privacy center, mounted at /privacycenter/ (privacyops.discovery)."""

from django.urls import path

from . import drp, views

app_name = "privacycenter"

urlpatterns = [
    path("", views.ask_link, name="ask"),
    path("enter/<str:token>/", views.enter, name="enter"),
    path("me/", views.home, name="home"),
    path("me/choice/", views.choice, name="choice"),
    path("me/request/", views.file_request, name="request"),
    path("me/sign-out/", views.sign_out, name="sign-out"),
    # Data Rights Protocol for authorized agents.
    path("drp/business.json", drp.business, name="drp-business"),
    path("drp/", drp.business, name="drp-base"),
    path("drp/v1/agent/<str:agent_id>", drp.agent, name="drp-agent"),
    path("drp/v1/data-rights-request", drp.exercise, name="drp-exercise"),
    path("drp/v1/data-rights-request/", drp.exercise),  # the trailing slash of DRP < 0.9.3
    path("drp/v1/data-rights-request/<uuid:request_id>", drp.request_status, name="drp-request"),
]
