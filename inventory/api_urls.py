"""Mounted at /api/inventory/ by privacyops.urls."""

from rest_framework.routers import SimpleRouter

from .api import DataCategoryViewSet, DataSubjectViewSet

router = SimpleRouter()
router.register("subjects", DataSubjectViewSet, basename="inventory-subject")
router.register("categories", DataCategoryViewSet, basename="inventory-category")

urlpatterns = router.urls
