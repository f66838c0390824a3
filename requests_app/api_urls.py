"""Officers' API, mounted at /api/requests/ (privacyops.discovery)."""

from rest_framework.routers import DefaultRouter

from .api import CaseViewSet

router = DefaultRouter()
router.register("cases", CaseViewSet, basename="privacy-request")

urlpatterns = router.urls
