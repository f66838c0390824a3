"""`{% dashboard_sections as sections %}`: the apps' dashboard cards for the admin index."""

from django import template

from privacyops.dashboard import collect_cards

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard_sections(context):
    request = context.get("request")
    if request is None or not getattr(request.user, "is_staff", False):
        return []
    return collect_cards(request)
