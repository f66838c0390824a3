"""URLs for bench/web_consent.py: the project's, plus the bare 204 view the choices are compared with."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request):
    """The floor: Django's full middleware stack and a view that does nothing."""
    return HttpResponse(status=204)


urlpatterns = [path("bench/bare", bare), path("", include("privacyops.urls"))]
