"""Oversized or over-long request bodies answer as every other API error: JSON 400, documented.

Django raises RequestDataTooBig / TooManyFieldsSent / TooManyFilesSent (SuspiciousOperation) while a
parser reads the body; DRF does not know them, so they escaped as Django's HTML 400 page, which no
API client (nor the OpenAPI schema) expects. They become DRF ParseErrors here.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

BODY_LIMITS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)
BODY_LIMIT_MESSAGE = "The request body is too large or has too many fields."


def as_api_error(exc: Exception) -> Exception:
    """The exception a DRF view should handle: body-limit errors as a ParseError (400)."""
    if isinstance(exc, BODY_LIMITS):
        return exceptions.ParseError(BODY_LIMIT_MESSAGE)
    return exc


def exception_handler(exc: Exception, context: dict):
    """settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handler, after `as_api_error`."""
    return drf_exception_handler(as_api_error(exc), context)
