"""AppConfig that makes PrivacyAdminSite the default admin site (kept apart: no model imports here)."""

from django.contrib.admin.apps import AdminConfig


class PrivacyAdminConfig(AdminConfig):
    default_site = "privacyops.admin_site.PrivacyAdminSite"
