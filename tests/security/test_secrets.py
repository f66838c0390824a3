"""Production refuses the published development secrets and trivially short keys (issue 15 item 4)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from privacyops import secret_rules

ROOT = Path(__file__).resolve().parents[2]


def _strong() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATA_MASTER_KEYS": Fernet.generate_key().decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
    }


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATA_MASTER_KEYS", "HASH_KEY"}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=clean, capture_output=True, text=True, check=False
    )


WEAK = [
    ("SECRET_KEY", secret_rules.DEV_SECRET_KEY),
    ("SECRET_KEY", secret_rules.EXAMPLE_SECRET_KEY),
    ("SECRET_KEY", "short-key"),
    ("SECRET_KEY", "x" * 60),
    ("DATA_MASTER_KEYS", secret_rules.DEV_DATA_KEY),
    ("DATA_MASTER_KEYS", "not-a-fernet-key"),
    ("HASH_KEY", secret_rules.DEV_HASH_KEY),
    ("HASH_KEY", "short"),
]


@pytest.mark.parametrize(("name", "value"), WEAK)
def test_production_refuses_to_start_with_a_weak_secret_in_one_line_naming_it(name, value):
    result = _run(["-c", "import privacyops.settings"], DEBUG="0", **{**_strong(), name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "refuses to start" in lines[0]
    assert value not in lines[0] or len(value) < 8  # the secret itself is not echoed


def test_eight_weak_secrets_are_each_recognised():
    refused = [name for name, value in WEAK if secret_rules.problems(**_args(name, value))]
    assert len(refused) == 8


def _args(name: str, value: str) -> dict:
    strong = _strong()
    args = {
        "secret_key": strong["SECRET_KEY"],
        "data_master_keys": [strong["DATA_MASTER_KEYS"]],
        "hash_key": strong["HASH_KEY"],
    }
    key = {"SECRET_KEY": "secret_key", "DATA_MASTER_KEYS": "data_master_keys", "HASH_KEY": "hash_key"}[name]
    args[key] = [value] if key == "data_master_keys" else value
    return args


def test_check_deploy_gives_one_error_per_development_secret():
    result = _run(["manage.py", "check", "--deploy"], DEBUG="1", ALLOWED_HOSTS="privacy.example.com")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    found = [
        check_id
        for check_id in ("privacyops.E010", "privacyops.E011", "privacyops.E012")
        if check_id in output
    ]
    assert len(found) == 3, output


def test_check_deploy_has_no_secret_errors_with_fresh_secrets():
    result = _run(["manage.py", "check", "--deploy"], DEBUG="1", **_strong())
    output = result.stdout + result.stderr
    assert not [i for i in ("privacyops.E010", "privacyops.E011", "privacyops.E012") if i in output], output
