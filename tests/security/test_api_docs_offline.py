"""/api/docs/ loads Swagger UI from our own static files, never from a CDN (issue 15 item 10)."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_api_docs_load_every_asset_from_our_static_files(admin_client):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert len(assets) >= 3, assets  # swagger-ui bundle, standalone preset, stylesheet
    assert [a for a in assets if a.startswith("http") or a.startswith("//")] == []
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    missing = [a for a in assets if not finders.find(a.removeprefix("/static/"))]
    assert missing == []
