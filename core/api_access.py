"""Who may call the API: staff in a signed-in admin session, or a service account's token.

Staff sign in with two factors; an API token is one factor, so a staff user's token is refused
unless API_ALLOW_STAFF_TOKENS is on. Tokens belong to service accounts: users without `is_staff`,
holding exactly the permissions their system needs. A session (or any non-token caller) must be staff.
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission

from .throttling import AnonRateThrottle, failure_record, failures_reached


def staff_tokens_allowed() -> bool:
    """API_ALLOW_STAFF_TOKENS (False): whether a staff user's API token is accepted."""
    return bool(getattr(settings, "API_ALLOW_STAFF_TOKENS", False))


class ServiceTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing tokens of staff users (they would bypass two-factor sign-in).

    Failed tokens count per client (core.throttling's bucket) at the anonymous rate, API_THROTTLE_ANON:
    DRF checks throttles only after authentication and permissions, so without this a token guesser
    would meet no limit at all.
    """

    def authenticate(self, request):
        limiter = AnonRateThrottle()
        scheme = get_authorization_header(request).split()[:1]
        presented = [p.lower() for p in scheme] == [self.keyword.lower().encode()]
        if limiter.num_requests is None or not presented:  # sessions are not counted here
            return super().authenticate(request)
        if failures_reached(request, "api:token", limit=limiter.num_requests):
            raise exceptions.Throttled(wait=limiter.duration)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            failure_record(request, "api:token", window=limiter.duration)
            raise

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if user.is_staff and not staff_tokens_allowed():
            raise exceptions.AuthenticationFailed(
                "Staff accounts use the admin with two-factor sign-in; API tokens belong to service accounts."
            )
        return user, token


def is_token_caller(request) -> bool:
    return isinstance(getattr(request, "auth", None), Token)


class StaffSessionOrServiceToken(BasePermission):
    """A token caller (a service account) or a staff user; never a non-staff session."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_staff or is_token_caller(request)
