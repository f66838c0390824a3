"""Helpers for walking the API: every endpoint from the URL resolver, the schema's operations, and
concrete URLs for them in a World."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .world import ANON, World


@dataclass(frozen=True)
class Endpoint:
    route: str  # as the resolver spells it
    view: type  # the DRF view class


def api_endpoints() -> list[Endpoint]:
    """Every URL pattern under /api/ whose view is a DRF view (viewsets resolve to their class)."""
    found: list[Endpoint] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                view = getattr(p.callback, "cls", None) or getattr(p.callback, "view_class", None)
                if route.startswith("api/") and view is not None:
                    found.append(Endpoint(route, view))

    walk(get_resolver().url_patterns, "")
    return found


def openapi_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    """(METHOD, path template, operation) for every operation in the schema."""
    return [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def fill(path: str, world: World) -> str:
    """A concrete URL for a schema path, pointing at the world's rows."""
    values = {
        "{public_id}": str(world.subject.public_id),
        "{receipt_id}": str(world.objects["consent.consentevent"].public_id),
        "{id}": str(world.objects["disclosures.disclosurebatch"].public_id),
        "{reference}": str(world.objects["requests_app.privacyrequest"].reference),
        "{code}": "contact",
    }
    for key, value in values.items():
        path = path.replace(key, value)
    assert "{" not in path, f"no value for a path parameter of {path}"
    return path


def api_client(user=None) -> APIClient:
    """A client authenticated the way other systems call us: a token (none for anonymous)."""
    client = APIClient(raise_request_exception=False)
    if user is not None and user != ANON:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
