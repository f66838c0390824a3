"""Production settings pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DEBUG"},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATA_MASTER_KEYS": Fernet.generate_key().decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "privacy.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
