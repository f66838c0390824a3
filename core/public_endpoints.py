"""Public endpoints: a shorter middleware stack for cross-origin JSON views that hold no session.

The website's consent endpoint (and the script and config it serves) is called by every visitor of the
company website, from another origin, without cookies of ours: it reads no session, signs nobody in,
checks no CSRF token (CORS and the Origin check protect it) and shows no messages. The full stack still
did that work on every call: a session store and a lazy user set up, the CSRF cookie looked for, the
messages storage made and flushed, django-otp and django-axes wrapped around it.

`public_endpoint` marks such a view. `PublicEndpointMiddleware`, placed right after SecurityMiddleware
(whose HSTS, nosniff, referrer and SSL-redirect rules so still apply to every request), resolves the
path once: a marked view runs behind PUBLIC_MIDDLEWARE only (CommonMiddleware: allowed hosts, disallowed
user agents, Content-Length; XFrameOptionsMiddleware); anything else, the admin, the API, the forms and
an unknown path, continues down the full MIDDLEWARE stack, unchanged. Since no session, user or CSRF
machinery exists on the short path, a marked view that touches `request.user` or `request.session`
fails loudly instead of quietly signing someone in.
"""

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, get_resolver
from django.utils.module_loading import import_string

# What a public endpoint still goes through, outermost first (the order MIDDLEWARE has them in).
PUBLIC_MIDDLEWARE = (
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_MARK = "public_endpoint"

View = Callable[..., HttpResponseBase]


def public_endpoint(view: View) -> View:
    """Mark a view as public: no session, authentication, CSRF, messages (see the module docstring).

    Only for views that use none of them; the mark survives the decorators applied over it
    (functools.wraps copies it), so put it anywhere in the stack of decorators.
    """
    if iscoroutinefunction(view):
        raise ImproperlyConfigured("The public endpoint chain runs synchronous views only.")
    setattr(view, _MARK, True)
    return view


def is_public_endpoint(view: object) -> bool:
    return getattr(view, _MARK, False) is True


def _call_view(request: HttpRequest) -> HttpResponseBase:
    """What Django's handler does between the middleware and the view, for a view already resolved:
    ATOMIC_REQUESTS as configured, a view returning nothing is an error, template responses rendered."""
    callback, args, kwargs = request.resolver_match
    view = callback
    for alias, settings_dict in connections.settings.items():
        if settings_dict.get("ATOMIC_REQUESTS") and alias not in getattr(view, "_non_atomic_requests", set()):
            view = transaction.atomic(using=alias)(view)
    response = view(request, *args, **kwargs)
    if response is None:
        name = getattr(callback, "__qualname__", repr(callback))
        raise ValueError(f"The view {callback.__module__}.{name} didn't return an HttpResponse object.")
    if hasattr(response, "render") and callable(response.render):
        response = response.render()
    return response


def _public_chain() -> Callable[[HttpRequest], HttpResponseBase]:
    handler = convert_exception_to_response(_call_view)
    for path in reversed(PUBLIC_MIDDLEWARE):
        middleware = import_string(path)(handler)
        if any(
            hasattr(middleware, m) for m in ("process_view", "process_exception", "process_template_response")
        ):
            raise ImproperlyConfigured(f"{path} needs hooks the public endpoint chain does not run.")
        handler = convert_exception_to_response(middleware)
    return handler


class PublicEndpointMiddleware:
    """Right after SecurityMiddleware: public endpoints take the short chain, everything else the full one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.public = _public_chain()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        resolver = get_resolver(getattr(request, "urlconf", None))
        try:
            match = resolver.resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not is_public_endpoint(match.func):
            return self.get_response(request)
        request.resolver_match = match
        return self.public(request)
