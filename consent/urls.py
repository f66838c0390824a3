"""Public consent pages, mounted at /consent/ (privacyops.urls)."""

from django.urls import path

from . import views, web

app_name = "consent"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # The website (issue 18): consent.js, its endpoint, the CCPA opt-out pages, the DEBUG demo.
    path("web/consent.js", web.consent_script, name="web-script"),
    path("web/consent.<str:version>.js", web.consent_script_versioned, name="web-script-versioned"),
    path("web/config", web.config, name="web-config"),
    path("web/choice", web.choice, name="web-choice"),
    path("web/do-not-sell", web.do_not_sell, name="web-do-not-sell"),
    path("web/limit-sensitive", web.limit_sensitive, name="web-limit-sensitive"),
    path("web/demo", web.demo, name="web-demo"),
]
