"""Root URL configuration: admin, API with its OpenAPI schema and docs, public pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from privacyops import views

api_patterns: list = []

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(api_patterns)),
]

admin.site.site_header = "privacyops"
admin.site.site_title = "privacyops"
admin.site.index_title = "Privacy operations"
