"""Root URL configuration: admin, API with its OpenAPI schema and docs, and each app's own URLs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from privacyops import views
from privacyops.discovery import DOMAIN_APPS, app_module, url_prefix

app_urls = []
api_urls = []
for _app in DOMAIN_APPS:
    if app_module(_app, "urls") is not None:
        app_urls.append(path(f"{url_prefix(_app)}/", include(f"{_app}.urls")))
    if app_module(_app, "api_urls") is not None:
        api_urls.append(path(f"api/{url_prefix(_app)}/", include(f"{_app}.api_urls")))

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *api_urls,
    *app_urls,
]
