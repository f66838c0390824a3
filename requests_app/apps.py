from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    verbose_name = "Privacy requests"
    name = "requests_app"
