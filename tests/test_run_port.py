"""`make run PORT=8123` serves on that port, and emailed links follow it unless SITE_URL is set (issue 16)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _site_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "privacyops.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_emailed_links_follow_the_port_served():
    assert _site_url(PORT="8123") == "http://127.0.0.1:8123"
    assert _site_url() == "http://127.0.0.1:8000"


def test_site_url_wins_when_set():
    assert _site_url(PORT="8123", SITE_URL="https://privacy.example.com") == "https://privacy.example.com"


def test_make_run_serves_on_the_port_given():
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "runserver 127.0.0.1:8123" in plan and "PORT=8123" in plan
