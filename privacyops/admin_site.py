"""The admin site: Django's, with two-factor sign-in (django-otp TOTP) when OTP_ADMIN_REQUIRED is on.

On by default whenever DEBUG is off. Staff enrol a TOTP device (admin → OTP_TOTP → TOTP devices, or
`manage.py otp_enroll <username>`, which prints the otpauth:// URL for an authenticator app) and then
sign in with password + 6-digit code. Static backup codes (otp_static) cover a lost phone.
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm


class PrivacyAdminSite(AdminSite):
    site_header = "privacyops"
    site_title = "privacyops"
    index_title = "Privacy operations"

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if settings.OTP_ADMIN_REQUIRED else AdminAuthenticationForm

    def has_permission(self, request) -> bool:
        allowed = super().has_permission(request)
        if allowed and settings.OTP_ADMIN_REQUIRED:
            return request.user.is_verified()
        return allowed
