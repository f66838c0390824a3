"""The privacy center, mounted at /privacycenter/ (privacyops.discovery)."""

from django.urls import path

from . import views

app_name = "privacycenter"

urlpatterns = [
    path("", views.ask_link, name="ask"),
    path("enter/<str:token>/", views.enter, name="enter"),
    path("me/", views.home, name="home"),
    path("me/choice/", views.choice, name="choice"),
    path("me/request/", views.file_request, name="request"),
    path("me/sign-out/", views.sign_out, name="sign-out"),
]
