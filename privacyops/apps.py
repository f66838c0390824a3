from django.apps import AppConfig


class PrivacyopsConfig(AppConfig):
    """The project itself as an app: project-wide commands, the admin dashboard, periodic schedules."""

    name = "privacyops"
    verbose_name = "privacyops"
