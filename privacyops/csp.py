"""The Content-Security-Policy header (django-csp) on admin pages only.

The admin is where staff see text other people wrote (templates, requests, imported registers); the
public pages keep their own headers. The policy itself is settings.CONTENT_SECURITY_POLICY.
"""

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIX = "/admin/"


class AdminCSPMiddleware(CSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if not request.path_info.startswith(ADMIN_PREFIX):
            return response
        return super().process_response(request, response)
