from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PrivacyopsConfig(AppConfig):
    """The project itself as an app: project-wide commands, the admin dashboard, roles and schedules."""

    name = "privacyops"
    verbose_name = "privacyops"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deployment checks)

        # Permissions exist only after post_migrate of every app; the last app's signal syncs roles.
        post_migrate.connect(_sync_after_last_app, dispatch_uid="privacyops.sync_roles")


def _sync_after_last_app(sender, app_config=None, **kwargs) -> None:
    from django.apps import apps

    # post_migrate is sent once per app that has a models module; act on the last one.
    last = [a for a in apps.get_app_configs() if a.models_module is not None][-1]
    if app_config is not None and app_config.label == last.label:
        from .roles import sync_roles

        sync_roles()
