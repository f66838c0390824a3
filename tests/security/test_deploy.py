"""Production settings pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(**extra: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DEBUG"},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATA_MASTER_KEYS": Fernet.generate_key().decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "privacy.example.com",
        "CACHE_URL": "redis://127.0.0.1:6379/2",  # not connected to by the check
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_rate_limits_would_count_per_process():
    result = _check_deploy(CACHE_URL="locmemcache://")
    assert result.returncode != 0
    assert "privacyops.W001" in result.stdout + result.stderr
